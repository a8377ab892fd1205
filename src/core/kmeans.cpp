#include "core/kmeans.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <stdexcept>

namespace dcomp {

KMeansInit parse_kmeans_init(const std::string& name) {
  if (name == "linear") return KMeansInit::kLinear;
  if (name == "random") return KMeansInit::kRandom;
  if (name == "density") return KMeansInit::kDensity;
  if (name == "kmeans++") return KMeansInit::kPlusPlus;
  throw std::invalid_argument("unknown k-means initialization '" + name + "' (linear, random, density, kmeans++)");
}

std::string to_string(KMeansInit init) {
  switch (init) {
    case KMeansInit::kLinear: return "linear";
    case KMeansInit::kRandom: return "random";
    case KMeansInit::kDensity: return "density";
    case KMeansInit::kPlusPlus: return "kmeans++";
  }
  return "?";
}

namespace {

// `sorted` ascending; returns k starting centroids, ascending.
std::vector<double> initial_centroids(const std::vector<double>& sorted, int k, KMeansInit init, uint64_t seed) {
  const size_t n = sorted.size();
  std::vector<double> c(static_cast<size_t>(k));
  std::mt19937_64 rng(seed);
  switch (init) {
    case KMeansInit::kLinear:
      for (int i = 0; i < k; ++i)
        c[size_t(i)] = k == 1 ? (sorted.front() + sorted.back()) / 2
                              : sorted.front() + (sorted.back() - sorted.front()) * i / (k - 1);
      break;
    case KMeansInit::kDensity:
      for (int i = 0; i < k; ++i) c[size_t(i)] = sorted[std::min(n - 1, size_t((i + 0.5) / k * double(n)))];
      break;
    case KMeansInit::kRandom: {
      // k distinct positions (fewer values than k: repeats are unavoidable).
      std::vector<size_t> idx(n);
      std::iota(idx.begin(), idx.end(), 0);
      for (int i = 0; i < k; ++i) {
        const size_t j = size_t(i) < n ? size_t(i) + rng() % (n - size_t(i)) : rng() % n;
        if (size_t(i) < n) std::swap(idx[size_t(i)], idx[j]);
        c[size_t(i)] = sorted[size_t(i) < n ? idx[size_t(i)] : j];
      }
      break;
    }
    case KMeansInit::kPlusPlus: {
      // Each next centroid is a value drawn with probability proportional to
      // its squared distance to the nearest centroid so far.
      c[0] = sorted[rng() % n];
      std::vector<double> d2(n);
      for (size_t i = 0; i < n; ++i) d2[i] = (sorted[i] - c[0]) * (sorted[i] - c[0]);
      for (int m = 1; m < k; ++m) {
        const double total = std::accumulate(d2.begin(), d2.end(), 0.0);
        size_t pick = rng() % n;
        if (total > 0) {
          double r = std::uniform_real_distribution<double>(0, total)(rng);
          for (pick = 0; pick + 1 < n && r >= d2[pick]; ++pick) r -= d2[pick];
        }
        c[size_t(m)] = sorted[pick];
        for (size_t i = 0; i < n; ++i) d2[i] = std::min(d2[i], (sorted[i] - c[size_t(m)]) * (sorted[i] - c[size_t(m)]));
      }
      break;
    }
  }
  std::sort(c.begin(), c.end());
  return c;
}

}  // namespace

KMeansResult kmeans_1d(const std::vector<float>& values, int k, KMeansInit init, uint64_t seed, int max_iterations) {
  return weighted_kmeans_1d(values, {}, k, init, seed, max_iterations);
}

KMeansResult weighted_kmeans_1d(const std::vector<float>& values, const std::vector<float>& importance, int k,
                                KMeansInit init, uint64_t seed, int max_iterations) {
  if (k < 1) throw std::invalid_argument("k-means needs k >= 1");
  if (!importance.empty() && importance.size() != values.size())
    throw std::invalid_argument("k-means: " + std::to_string(importance.size()) + " weights for " +
                                std::to_string(values.size()) + " values");
  for (float h : importance)
    if (!(h >= 0) || !std::isfinite(h)) throw std::invalid_argument("k-means: weights must be finite and >= 0");
  KMeansResult result;
  if (values.empty()) {
    result.centroids.assign(size_t(k), 0.0f);
    return result;
  }
  const size_t n = values.size();
  std::vector<uint32_t> order(n);  // sorted position -> input index
  std::iota(order.begin(), order.end(), 0u);
  std::stable_sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return values[a] < values[b]; });
  // Prefix sums over sorted[0..i): of the values, of h w and of h.
  std::vector<double> sorted(n), prefix(n + 1, 0.0), weighted(n + 1, 0.0), mass(n + 1, 0.0);
  for (size_t i = 0; i < n; ++i) {
    sorted[i] = values[order[i]];
    const double h = importance.empty() ? 1.0 : double(importance[order[i]]);
    prefix[i + 1] = prefix[i] + sorted[i];
    weighted[i + 1] = weighted[i] + h * sorted[i];
    mass[i + 1] = mass[i] + h;
  }
  std::vector<double> c = initial_centroids(sorted, k, init, seed);
  // Cluster j holds sorted[bound[j] .. bound[j+1]): the values nearer to c[j]
  // than to its neighbours (ties go to the lower centroid).
  std::vector<size_t> bound(size_t(k) + 1);
  auto assign = [&] {
    bound[0] = 0;
    bound[size_t(k)] = n;
    for (size_t j = 1; j < size_t(k); ++j)
      bound[j] = size_t(std::upper_bound(sorted.begin(), sorted.end(), (c[j - 1] + c[j]) / 2) - sorted.begin());
  };
  assign();
  while (result.iterations < max_iterations) {
    ++result.iterations;
    // c_j = the (h-weighted) mean of its cluster, from differences of prefix sums.
    for (size_t j = 0; j < size_t(k); ++j) {
      const size_t begin = bound[j], end = bound[j + 1];
      if (end == begin) continue;
      const double h = mass[end] - mass[begin];
      c[j] = h > 0 ? (weighted[end] - weighted[begin]) / h : (prefix[end] - prefix[begin]) / double(end - begin);
    }
    std::sort(c.begin(), c.end());  // an emptied cluster's centroid may now be out of order
    const std::vector<size_t> previous = bound;
    assign();
    if (bound == previous) break;
  }
  result.centroids.assign(c.begin(), c.end());
  result.assignment.resize(n);
  for (size_t j = 0; j < size_t(k); ++j)
    for (size_t i = bound[j]; i < bound[j + 1]; ++i) result.assignment[order[i]] = uint32_t(j);
  return result;
}

}  // namespace dcomp
