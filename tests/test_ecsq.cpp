#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <set>

#include "core/ecsq.h"

using namespace dcomp;

namespace {

// Pruned-layer-like values: Laplacian, the small ones removed.
std::vector<float> pruned_weights(int n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::exponential_distribution<float> magnitude(30.0f);
  std::bernoulli_distribution negative(0.5);
  std::vector<float> v;
  while (int(v.size()) < n) {
    const float m = magnitude(rng);
    if (m > 0.02f) v.push_back(negative(rng) ? -m : m);
  }
  return v;
}

double index_entropy_bits(const KMeansResult& r) {
  std::vector<double> count(r.centroids.size(), 0);
  for (uint32_t a : r.assignment) ++count[a];
  double h = 0;
  for (double c : count)
    if (c > 0) h -= c / double(r.assignment.size()) * std::log2(c / double(r.assignment.size()));
  return h;
}

}  // namespace

TEST(Ecsq, LambdaZeroIsKMeans) {
  const std::vector<float> v = pruned_weights(5000, 1);
  const KMeansResult km = kmeans_1d(v, 16, KMeansInit::kLinear, 0);
  const KMeansResult e = ecsq_1d(v, km.centroids, 0.0);
  EXPECT_EQ(e.assignment, km.assignment);
  EXPECT_EQ(e.centroids, km.centroids);
}

// A larger lambda trades distortion for rate: the index entropy falls
// and the squared error rises, monotonically, and J never exceeds
// k-means' J at the same lambda (it starts there and only descends).
TEST(Ecsq, LambdaTradesDistortionForRate) {
  const std::vector<float> v = pruned_weights(20000, 2);
  const KMeansResult km = kmeans_1d(v, 32, KMeansInit::kLinear, 0);
  double previous_entropy = index_entropy_bits(km), previous_error = ecsq_cost(v, km, 0);
  for (double lambda : {0.02, 0.1, 0.5}) {
    const KMeansResult e = ecsq_1d(v, km.centroids, lambda);
    const double entropy = index_entropy_bits(e), error = ecsq_cost(v, e, 0);
    EXPECT_LT(entropy, previous_entropy) << lambda;
    EXPECT_GT(error, previous_error) << lambda;
    EXPECT_LE(ecsq_cost(v, e, lambda), ecsq_cost(v, km, lambda)) << lambda;
    for (size_t j = 1; j < e.centroids.size(); ++j) EXPECT_LE(e.centroids[j - 1], e.centroids[j]);
    previous_entropy = entropy, previous_error = error;
  }
  // At lambda 0.5 whole clusters have emptied.
  const KMeansResult e = ecsq_1d(v, km.centroids, 0.5);
  EXPECT_LT(std::set<uint32_t>(e.assignment.begin(), e.assignment.end()).size(), 32u);
}
