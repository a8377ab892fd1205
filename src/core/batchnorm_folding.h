// BatchNorm folded for inference: a runtime needs only each channel's
// scale and shift, y = x * scale + shift, with scale = gamma / sqrt(var + eps)
// and shift = beta - mean * scale. Folding rewrites each BatchNorm of the
// graph so that its running statistics are the identity (mean 0, variance
// 1, stored as constants: a few bytes) and its affine pair carries the rest:
//   gamma' = scale * sqrt(1 + eps),  beta' = shift,
// so that eval-mode BatchNorm gives the same outputs (to float rounding).
// What is lost is training state: the running statistics, and the affine
// parameters as training knows them; fine-tune from the unfolded model.
#pragma once

#include "core/compressed_file.h"

namespace dcomp::dcz {

// Folds every BatchNorm of `model.graph` whose four tensors hold floats
// and are read by BatchNorms only; the running statistics become
// Storage::kConstant, gamma and beta keep their storage. Returns how many
// were folded. A model without a graph has nothing to fold: throws.
int fold_batch_norms(Model& model);

}  // namespace dcomp::dcz
