#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <set>

#include "core/ecsq.h"
#include "core/uniform_quantizer.h"

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

// Levels at the nonzero multiples of step * RMS, each value at its nearest
// level of its own sign: tiny values go to +-step (never zero), large ones
// clip to +-L * step.
TEST(UniformQuantizer, NearestNonzeroLevelOfTheSameSign) {
  const std::vector<float> v = {-2.0f, -0.3f, -0.01f, 0.01f, 0.24f, 0.26f, 0.74f, 3.0f};
  double squares = 0;
  for (float x : v) squares += double(x) * x;
  const double rms = std::sqrt(squares / double(v.size()));
  const double delta = 0.5 / rms;  // step 0.5 in absolute units
  const KMeansResult r = uniform_quantize_1d(v, 8, delta);
  ASSERT_EQ(r.centroids.size(), 8u);
  const std::vector<float> levels = {-2.0f, -1.5f, -1.0f, -0.5f, 0.5f, 1.0f, 1.5f, 2.0f};
  for (size_t j = 0; j < levels.size(); ++j) EXPECT_NEAR(r.centroids[j], levels[j], 1e-6) << j;
  // -2 -> -2, -0.3 -> -0.5, -0.01 -> -0.5, 0.01 -> 0.5, 0.24 -> 0.5, 0.26 -> 0.5, 0.74 -> 0.5, 3 -> 2 (clipped)
  EXPECT_EQ(r.assignment, (std::vector<uint32_t>{0, 3, 3, 4, 4, 4, 4, 7}));
}

TEST(UniformQuantizer, StepZeroSpansTheLargestMagnitude) {
  const std::vector<float> v = pruned_weights(5000, 3);
  float largest = 0;
  for (float x : v) largest = std::max(largest, std::fabs(x));
  const KMeansResult r = uniform_quantize_1d(v, 16, 0);
  EXPECT_FLOAT_EQ(r.centroids.back(), largest);
  EXPECT_FLOAT_EQ(r.centroids.front(), -largest);
  for (size_t i = 0; i < v.size(); ++i) EXPECT_EQ(r.centroids[r.assignment[i]] > 0, v[i] > 0) << i;
  EXPECT_THROW(uniform_quantize_1d(v, 7, 0), std::invalid_argument);
  EXPECT_THROW(uniform_quantize_1d(v, 8, -1), std::invalid_argument);
}

// The point of equal steps: on pruned-layer-like weights (most of them just
// above the threshold) the levels are used unequally, so the indices carry
// less entropy than k-means' at the same number of levels.
TEST(UniformQuantizer, IndicesCheaperThanKMeansAtEqualLevels) {
  const std::vector<float> v = pruned_weights(20000, 4);
  const KMeansResult km = kmeans_1d(v, 16, KMeansInit::kLinear, 0);
  const KMeansResult u = uniform_quantize_1d(v, 16, 0);
  EXPECT_LT(index_entropy_bits(u), index_entropy_bits(km) - 0.3);
}
