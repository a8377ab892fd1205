// dcomp prune: magnitude pruning of a model. dcomp sparsity: where a model's
// zeros are.
#include <fmt/core.h>

#include <memory>
#include <optional>

#include "cli/commands.h"
#include "cli/evaluation.h"
#include "cli/model_io.h"
#include "core/atomic_file.h"
#include "libtorch/prune.h"
#include "libtorch/runtime_info.h"
#include "libtorch/state_dict.h"
#include "libtorch/train.h"

namespace dcomp::cli {
namespace {

struct PruneOptions {
  CommonOptions common;
  SplitOptions split;
  std::string model = "resnet20", weights, out, targets_file;
  bool as_state_dict = false;
  PruneSpec spec;
};

void run_prune(PruneOptions o) {
  apply_threads(o.common);
  if (!o.targets_file.empty()) o.spec = prune_spec_from_json(read_json_file(o.targets_file));
  validate(o.spec);
  auto model = load_model(o.weights, o.model);
  prune(*model, o.spec);
  const SparsityReport report = sparsity_report(*model);
  fmt::print("{}", format_table(report));
  const std::optional<EvalResult> eval = evaluate_on_split(*model, o.common, o.split);
  if (eval) fmt::print("top-1 on {} after pruning: {:.2f}%\n", o.split.split, 100 * eval->top1);
  if (o.out.empty()) return;
  save_model(*model, o.out, o.as_state_dict);
  nlohmann::json targets = nlohmann::json::array();
  for (const auto& [pattern, sparsity] : o.spec.targets) targets.push_back({pattern, sparsity});
  nlohmann::json metadata = {{"model", o.model},
                             {"pruned_from", o.weights},
                             {"pruning", {{"method", o.spec.method}, {"amount", o.spec.amount}, {"targets", targets}}},
                             {"sparsity", to_json(report)},
                             {"git_commit", git_commit()},
                             {"created", utc_timestamp()}};
  if (eval) metadata[o.split.split + "_top1"] = eval->top1;
  write_file_atomic(sidecar_path(o.out), metadata.dump(2) + "\n");
}

}  // namespace

void add_prune_command(CLI::App& app) {
  auto o = std::make_shared<PruneOptions>();
  CLI::App* cmd = app.add_subcommand("prune", "Magnitude pruning: zero the smallest weights of every conv and fc layer");
  add_common_options(*cmd, o->common);
  cmd->add_option("weights", o->weights, "Model to prune: TorchScript, or a state_dict .pt of --model")->required();
  cmd->add_option("--model", o->model, "Architecture of a state_dict")->capture_default_str();
  cmd->add_option("--method", o->spec.method,
                  "std: |w| < s*std(w) per layer; percentile: a fraction q of each layer; global: a fraction q of all "
                  "prunable weights; layerwise: per-layer targets from --targets")
      ->check(CLI::IsMember({"std", "percentile", "global", "layerwise"}));
  cmd->add_option("--amount", o->spec.amount, "s for std, q for percentile and global");
  cmd->add_option("--targets", o->targets_file,
                  "JSON pruning spec: {\"method\": \"layerwise\", \"targets\": [[\"layer1.*\", 0.5], ...]}")
      ->check(CLI::ExistingFile);
  add_split_options(*cmd, o->split, /*allow_none=*/true);
  cmd->add_option("--out", o->out, "Pruned model, in the input's format (metadata with the sparsity report beside it)");
  add_state_dict_flag(*cmd, o->as_state_dict);
  cmd->callback([o] { run_prune(*o); });

  auto s = std::make_shared<std::pair<std::string, std::string>>("resnet20", "");
  CLI::App* sparsity = app.add_subcommand("sparsity", "Per-layer weights, nonzeros and sparsity of a state_dict");
  sparsity->add_option("weights", s->second, "TorchScript module or state_dict .pt")->required();
  sparsity->add_option("--model", s->first, "Architecture of a state_dict")->capture_default_str();
  sparsity->callback([s] { fmt::print("{}", format_table(sparsity_report(*load_model(s->second, s->first)))); });
}

}  // namespace dcomp::cli
