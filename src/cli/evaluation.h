// The evaluation that eval, prune and quantize share: which split, how the
// validation split is cut, bf16 or not, and the evaluation itself.
#pragma once

#include <optional>
#include <string>

#include "cli/commands.h"
#include "libtorch/train.h"

namespace dcomp::cli {

struct SplitOptions {
  std::string split = "test";  // test | validation | none (where a command allows it)
  int64_t validation_size = 5000;
  bool bf16 = false;
};
void add_split_options(CLI::App& command, SplitOptions& options, bool allow_none);

// `model` (moved to the device) on its dataset's chosen split; nothing for "none".
std::optional<EvalResult> evaluate_on_split(Model& model, const CommonOptions& common, const SplitOptions& options);

}  // namespace dcomp::cli
