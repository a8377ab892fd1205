// Entropy-constrained scalar quantization (Chou, Lookabaugh and Gray 1989)
// of one-dimensional values: k-means' distortion traded against the bits an
// entropy coder will spend on the indices. With p_k the share of values in
// cluster k, it minimises the Lagrangian
//   J = sum_i (v_i - c_a(i))^2 + lambda * var(v) * sum_i -log2 p_a(i),
// alternating the optimal assignment for fixed (c, p) (each value to the
// centroid of least squared error plus lambda * var(v) * -log2 p_k) with
// the optimal centroids and shares for fixed assignments (means and
// counts). J never increases; clusters that empty stay empty, so a larger
// lambda leaves fewer, more unequal clusters (lower index entropy) at more
// distortion. lambda is in units of the values' variance, so one value
// means the same trade for every layer. lambda = 0 is k-means (Lloyd).
#pragma once

#include <vector>

#include "core/kmeans.h"

namespace dcomp {

// Starts from `initial` (ascending centroids, k of them; k-means' result
// is the usual start) and iterates until no value changes cluster or
// `max_iterations`. Centroids stay ascending; an empty cluster keeps its
// centroid and takes no value.
KMeansResult ecsq_1d(const std::vector<float>& values, std::vector<float> initial, double lambda,
                     int max_iterations = 100);

// The Lagrangian J above, for reporting and tests.
double ecsq_cost(const std::vector<float>& values, const KMeansResult& result, double lambda);

}  // namespace dcomp
