// Uniform scalar quantization of a pruned layer's nonzero weights: levels
// at the nonzero multiples of a step,
//   c = { -L*step, ..., -step, +step, ..., +L*step },  L = k / 2,
// each value to its nearest level of the same sign, clipped to +-L*step.
// Zero is no level: the pruned weights are exactly zero already and the
// position stream carries them, so no kept weight may become one. Equal
// spacing leaves the levels unequally used (most weights sit just above the
// pruning threshold), which is what an entropy coder turns into bytes: at
// high rate, uniform steps are the best scalar quantizer for an entropy-coded
// index (Gish and Pierce 1968; Choi et al. 2017 measured it on pruned
// ResNets).
#pragma once

#include <vector>

#include "core/kmeans.h"

namespace dcomp {

// k levels (even, >= 2). `step` is in units of the values' root mean square,
// so one value means the same for every layer; step = 0 spaces the levels to
// span the largest magnitude exactly (step = max|v| / L).
KMeansResult uniform_quantize_1d(const std::vector<float>& values, int k, double step);

}  // namespace dcomp
