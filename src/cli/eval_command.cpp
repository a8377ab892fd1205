// dcomp eval: top-1 of a saved model on the test (or validation) set.
#include <fmt/core.h>

#include <memory>

#include "cli/commands.h"
#include "cli/evaluation.h"
#include "cli/model_io.h"
#include "libtorch/train.h"

namespace dcomp::cli {
namespace {

struct EvalOptions {
  CommonOptions common;
  SplitOptions split;
  std::string model = "resnet20", weights;
  bool per_class = false;
};

void run_eval(const EvalOptions& o) {
  apply_threads(o.common);
  auto model = load_model(o.weights, o.model);
  const EvalResult result = *evaluate_on_split(*model, o.common, o.split);
  const DatasetInfo info = *model->data();
  fmt::print("{} on {} {} ({} images): top-1 {:.2f}%\n", o.weights, info.name, o.split.split, result.images,
             100 * result.top1);
  if (o.per_class)
    for (size_t c = 0; c < result.per_class.size(); ++c)
      fmt::print("  {:<12} {:6.2f}%\n", info.class_names[c], 100 * result.per_class[c]);
}

}  // namespace

void add_eval_command(CLI::App& app) {
  auto options = std::make_shared<EvalOptions>();
  CLI::App* cmd = app.add_subcommand("eval", "Top-1 accuracy of a model (TorchScript or state_dict .pt)");
  add_common_options(*cmd, options->common);
  cmd->add_option("--model", options->model, "Architecture of a state_dict (not needed for TorchScript)")
      ->capture_default_str();
  cmd->add_option("weights", options->weights, "TorchScript module, or a state_dict .pt (from dcomp or torch.save)")
      ->required();
  add_split_options(*cmd, options->split, /*allow_none=*/false);
  cmd->add_flag("--per-class", options->per_class, "Also print accuracy per class");
  cmd->callback([options] { run_eval(*options); });
}

}  // namespace dcomp::cli
