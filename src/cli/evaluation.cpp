#include "cli/evaluation.h"

#include "cli/model_io.h"
#include "libtorch/runtime_info.h"

namespace dcomp::cli {

void add_split_options(CLI::App& command, SplitOptions& options, bool allow_none) {
  std::vector<std::string> splits = {"test", "validation"};
  if (allow_none) splits.push_back("none");
  command.add_option("--split", options.split, "Split to evaluate on")
      ->check(CLI::IsMember(splits))
      ->capture_default_str();
  command.add_option("--validation-size", options.validation_size, "Images held out of the training set")
      ->capture_default_str();
  command.add_flag("--bf16", options.bf16, "Evaluate under bf16 autocast");
}

std::optional<EvalResult> evaluate_on_split(Model& model, const CommonOptions& common, const SplitOptions& options) {
  if (options.split == "none") {
    if (!common.source.dataset.empty()) model_data(model, common);  // recorded in what the command writes
    return std::nullopt;
  }
  const DatasetInfo info = model_data(model, common);
  const DataSplits data = load_data(info, common, options.validation_size);
  const torch::Device device = resolve_device(common.device);
  model.to(device);
  return evaluate(model, options.split == "test" ? data.test : data.validation, info, device, options.bf16);
}

}  // namespace dcomp::cli
