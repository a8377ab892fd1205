#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "core/kmeans.h"

using namespace dcomp;

namespace {

std::vector<float> bimodal(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> a(-0.05f, 0.02f), b(0.06f, 0.03f);
  std::vector<float> v(n);
  for (auto& x : v) x = rng() % 2 ? a(rng) : b(rng);
  return v;
}

// Plain Lloyd's iterations over unsorted data, from given centroids; each
// value counts h[i] in its centroid's mean (1 without h).
std::vector<double> reference_lloyd(const std::vector<float>& v, std::vector<double> c,
                                    const std::vector<float>& h = {}) {
  for (int it = 0; it < 300; ++it) {
    std::vector<double> sum(c.size()), count(c.size());
    for (size_t i = 0; i < v.size(); ++i) {
      const float x = v[i];
      size_t best = 0;
      for (size_t j = 1; j < c.size(); ++j)
        if (std::abs(x - c[j]) < std::abs(x - c[best])) best = j;
      const double weight = h.empty() ? 1.0 : double(h[i]);
      sum[best] += weight * x, count[best] += weight;
    }
    std::vector<double> next = c;
    for (size_t j = 0; j < c.size(); ++j)
      if (count[j] > 0) next[j] = sum[j] / count[j];
    std::sort(next.begin(), next.end());
    if (next == c) break;
    c = next;
  }
  return c;
}

}  // namespace

TEST(KMeans, MatchesPlainLloydFromTheLinearStart) {
  const auto v = bimodal(3000, 1);
  for (int k : {2, 4, 8, 16}) {
    const KMeansResult r = kmeans_1d(v, k, KMeansInit::kLinear, 0);
    const float lo = *std::min_element(v.begin(), v.end()), hi = *std::max_element(v.begin(), v.end());
    std::vector<double> start;
    for (int i = 0; i < k; ++i) start.push_back(double(lo) + (double(hi) - double(lo)) * i / (k - 1));
    const auto expected = reference_lloyd(v, start);
    ASSERT_EQ(r.centroids.size(), size_t(k));
    for (int j = 0; j < k; ++j) EXPECT_NEAR(r.centroids[size_t(j)], expected[size_t(j)], 1e-6) << "k=" << k;
  }
}

TEST(KMeans, EveryValueGoesToItsNearestCentroid) {
  const auto v = bimodal(2000, 2);
  for (KMeansInit init : {KMeansInit::kLinear, KMeansInit::kRandom, KMeansInit::kDensity, KMeansInit::kPlusPlus}) {
    const KMeansResult r = kmeans_1d(v, 8, init, 3);
    ASSERT_EQ(r.assignment.size(), v.size());
    for (size_t i = 0; i < v.size(); ++i) {
      const float mine = std::abs(v[i] - r.centroids[r.assignment[i]]);
      for (float c : r.centroids) EXPECT_LE(mine, std::abs(v[i] - c) + 1e-7f) << to_string(init);
    }
    EXPECT_TRUE(std::is_sorted(r.centroids.begin(), r.centroids.end()));
  }
}

TEST(KMeans, DeterministicUnderASeed) {
  const auto v = bimodal(1000, 4);
  for (KMeansInit init : {KMeansInit::kRandom, KMeansInit::kPlusPlus}) {
    EXPECT_EQ(kmeans_1d(v, 8, init, 5).centroids, kmeans_1d(v, 8, init, 5).centroids);
    // The seed picks the starting centroids (0 iterations: the start itself).
    EXPECT_NE(kmeans_1d(v, 8, init, 5, 0).centroids, kmeans_1d(v, 8, init, 6, 0).centroids);
  }
}

TEST(KMeans, StartsAsDocumented) {
  const std::vector<float> v = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
  EXPECT_EQ(kmeans_1d(v, 4, KMeansInit::kLinear, 0, 0).centroids, (std::vector<float>{0, 3, 6, 9}));
  EXPECT_EQ(kmeans_1d(v, 2, KMeansInit::kDensity, 0, 0).centroids, (std::vector<float>{2, 7}));
}

TEST(KMeans, FewerDistinctValuesThanClustersAreExact) {
  const std::vector<float> v = {0.5f, -0.25f, 0.5f, 0.125f, -0.25f};
  const KMeansResult r = kmeans_1d(v, 8, KMeansInit::kDensity, 0);
  for (size_t i = 0; i < v.size(); ++i) EXPECT_EQ(r.centroids[r.assignment[i]], v[i]);
}

std::vector<double> linear_start(const std::vector<float>& v, int k) {
  const float lo = *std::min_element(v.begin(), v.end()), hi = *std::max_element(v.begin(), v.end());
  std::vector<double> start;
  for (int i = 0; i < k; ++i) start.push_back(double(lo) + (double(hi) - double(lo)) * i / (k - 1));
  return start;
}

TEST(WeightedKMeans, MatchesWeightedLloyd) {
  const auto v = bimodal(3000, 7);
  std::mt19937_64 rng(8);
  std::vector<float> h(v.size());
  for (auto& x : h) x = std::exponential_distribution<float>(1.0f)(rng);  // never 0: every cluster has mass
  for (int k : {2, 4, 8}) {
    const KMeansResult r = weighted_kmeans_1d(v, h, k, KMeansInit::kLinear, 0);
    const auto expected = reference_lloyd(v, linear_start(v, k), h);
    const auto unweighted = kmeans_1d(v, k, KMeansInit::kLinear, 0).centroids;
    for (int j = 0; j < k; ++j) EXPECT_NEAR(r.centroids[size_t(j)], expected[size_t(j)], 1e-6) << "k=" << k;
    EXPECT_NE(r.centroids, unweighted) << "the weights must move the centroids, k=" << k;
  }
}

TEST(WeightedKMeans, EqualWeightsAreKMeansAndOneHeavyValuePullsItsCentroid) {
  const auto v = bimodal(1000, 9);
  EXPECT_EQ(weighted_kmeans_1d(v, std::vector<float>(v.size(), 2.5f), 8, KMeansInit::kLinear, 0).centroids,
            kmeans_1d(v, 8, KMeansInit::kLinear, 0).centroids);
  // k = 1: the centroid is the weighted mean, here nearly the heavy value.
  const std::vector<float> x = {0, 1, 2, 10}, h = {1, 1, 1, 997};
  EXPECT_NEAR(weighted_kmeans_1d(x, h, 1, KMeansInit::kLinear, 0).centroids[0], (3 + 9970) / 1000.0, 1e-5);
  // A cluster of zero total weight keeps its plain mean.
  const std::vector<float> y = {0, 1, 10, 11}, g = {0, 0, 1, 3};
  EXPECT_EQ(weighted_kmeans_1d(y, g, 2, KMeansInit::kLinear, 0).centroids, (std::vector<float>{0.5f, 10.75f}));
}

TEST(WeightedKMeans, RejectsBadWeights) {
  const std::vector<float> v = {0, 1, 2};
  EXPECT_THROW(weighted_kmeans_1d(v, {1, 1}, 2, KMeansInit::kLinear, 0), std::invalid_argument);
  EXPECT_THROW(weighted_kmeans_1d(v, {1, -1, 1}, 2, KMeansInit::kLinear, 0), std::invalid_argument);
  EXPECT_THROW(weighted_kmeans_1d(v, {1, NAN, 1}, 2, KMeansInit::kLinear, 0), std::invalid_argument);
}

TEST(KMeans, InitNamesRoundTrip) {
  for (const char* name : {"linear", "random", "density", "kmeans++"})
    EXPECT_EQ(to_string(parse_kmeans_init(name)), name);
  EXPECT_THROW(parse_kmeans_init("forgy"), std::invalid_argument);
}
