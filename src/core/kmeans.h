// One-dimensional k-means for weight sharing (Han et al. 2015, section 3.1),
// done exactly and fast: the values are sorted once, so every cluster is a
// contiguous run, found by binary search on the midpoints between
// centroids, and every centroid update is a difference of prefix sums.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace dcomp {

// How the k centroids start (Han et al. compare the first three):
//   linear:   evenly spaced over [min, max] (their best, and the default)
//   random:   k distinct values drawn from the data (Forgy)
//   density:  evenly spaced in the values' CDF (quantiles (i + 1/2) / k)
//   kmeans++: D^2 sampling (Arthur and Vassilvitskii 2007)
enum class KMeansInit { kLinear, kRandom, kDensity, kPlusPlus };
KMeansInit parse_kmeans_init(const std::string& name);  // throws std::invalid_argument
std::string to_string(KMeansInit init);

struct KMeansResult {
  std::vector<float> centroids;     // k values, ascending
  std::vector<uint32_t> assignment; // per input value: index of its centroid
  int iterations = 0;
};

// Lloyd's iterations until no value changes cluster (or `max_iterations`;
// 0 gives the initial centroids). Every value is assigned to its nearest
// centroid. A cluster that empties keeps its centroid. Deterministic for a
// given seed.
KMeansResult kmeans_1d(const std::vector<float>& values, int k, KMeansInit init, uint64_t seed,
                       int max_iterations = 300);

// The same with a weight h_i >= 0 per value (Choi et al. 2017, "Towards the
// limit of network quantization": h_i the diagonal of the loss's Hessian),
// minimising sum_i h_i (w_i - c_{a(i)})^2. In one dimension only the update
// changes: c_j = sum_{i in j} h_i w_i / sum_{i in j} h_i, a cluster of zero
// total weight taking its plain mean; each value still goes to its nearest
// centroid, since h_i scales all of its distances alike. Empty `importance`
// is kmeans_1d. Throws std::invalid_argument on a size mismatch or a
// negative or non-finite weight.
KMeansResult weighted_kmeans_1d(const std::vector<float>& values, const std::vector<float>& importance, int k,
                                KMeansInit init, uint64_t seed, int max_iterations = 300);

}  // namespace dcomp
