#include "core/ecsq.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace dcomp {

namespace {

double variance(const std::vector<float>& values) {
  double sum = 0, squares = 0;
  for (float v : values) sum += v, squares += double(v) * v;
  const double n = double(values.size());
  return values.empty() ? 0 : std::max(0.0, squares / n - (sum / n) * (sum / n));
}

// -log2 of each cluster's share; infinite for an empty cluster.
std::vector<double> code_lengths(const std::vector<uint32_t>& assignment, size_t k) {
  std::vector<double> count(k, 0);
  for (uint32_t a : assignment) ++count[a];
  std::vector<double> length(k);
  for (size_t j = 0; j < k; ++j)
    length[j] = count[j] > 0 ? -std::log2(count[j] / double(assignment.size())) : std::numeric_limits<double>::infinity();
  return length;
}

}  // namespace

double ecsq_cost(const std::vector<float>& values, const KMeansResult& r, double lambda) {
  const double weight = lambda * variance(values);
  const std::vector<double> length = code_lengths(r.assignment, r.centroids.size());
  double j = 0;
  for (size_t i = 0; i < values.size(); ++i) {
    const double e = double(values[i]) - r.centroids[r.assignment[i]];
    j += e * e + weight * length[r.assignment[i]];
  }
  return j;
}

KMeansResult ecsq_1d(const std::vector<float>& values, std::vector<float> initial, double lambda, int max_iterations) {
  KMeansResult r;
  r.centroids = std::move(initial);
  const size_t k = r.centroids.size();
  const double weight = lambda * variance(values);
  // The first assignment is k-means' (every cluster's length equal).
  std::vector<double> length(k, 0.0);
  r.assignment.assign(values.size(), 0);
  for (r.iterations = 0; r.iterations <= max_iterations; ++r.iterations) {
    bool changed = r.iterations == 0;
    for (size_t i = 0; i < values.size(); ++i) {
      double best = std::numeric_limits<double>::infinity();
      uint32_t choice = r.assignment[i];
      for (size_t j = 0; j < k; ++j) {
        const double e = double(values[i]) - r.centroids[j];
        const double cost = e * e + weight * length[j];
        if (cost < best) best = cost, choice = uint32_t(j);
      }
      changed |= choice != r.assignment[i];
      r.assignment[i] = choice;
    }
    if (!changed || r.iterations == max_iterations) break;
    std::vector<double> sum(k, 0), count(k, 0);
    for (size_t i = 0; i < values.size(); ++i) sum[r.assignment[i]] += values[i], ++count[r.assignment[i]];
    for (size_t j = 0; j < k; ++j)
      if (count[j] > 0) r.centroids[j] = float(sum[j] / count[j]);
    length = code_lengths(r.assignment, k);
  }
  // An empty cluster kept its centroid while its neighbours moved: sort.
  std::vector<uint32_t> order(k), rank(k);
  std::iota(order.begin(), order.end(), 0u);
  std::stable_sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return r.centroids[a] < r.centroids[b]; });
  std::vector<float> sorted(k);
  for (size_t j = 0; j < k; ++j) sorted[j] = r.centroids[order[j]], rank[order[j]] = uint32_t(j);
  r.centroids = std::move(sorted);
  for (uint32_t& a : r.assignment) a = rank[a];
  return r;
}

}  // namespace dcomp
