// dcomp train: train a model, a built-in one from scratch or a TorchScript
// module from its current weights. dcomp finetune: masked retraining of a
// pruned model (its zeros stay exactly zero). Both save the model in its own
// format (a state_dict, or TorchScript) with a metadata file beside it.
#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <optional>

#include "cli/commands.h"
#include "cli/model_io.h"
#include "core/atomic_file.h"
#include "libtorch/progress.h"
#include "libtorch/data_parallel.h"
#include "libtorch/prune.h"
#include "libtorch/runtime_info.h"
#include "libtorch/models.h"
#include "libtorch/train.h"
#include "libtorch/weight_sharing.h"

namespace dcomp::cli {
namespace {

struct TrainOptions {
  CommonOptions common;
  TrainConfig defaults;     // the command's own defaults
  TrainConfig flags;        // bound to the command line
  std::string config_file;  // a JSON recipe; explicit flags override it
  std::string init_weights;   // finetune: the pruned (or dense) model
  std::string schedule_file;  // finetune: prune on a schedule while training
  bool tie_weights = false;   // finetune: trained quantization of a weight-shared model
  Distillation distillation;  // --teacher and its settings
  std::string run_name, runs_dir = "runs", out;
  bool as_state_dict = false;
  RunControl run;
  DataParallelOptions data_parallel;
};

// The recipe: the command's defaults, then the config file, then the flags
// given explicitly. Option --foo-bar sets recipe key foo_bar.
TrainConfig resolve_config(const TrainOptions& o, const CLI::App& cmd) {
  nlohmann::json recipe = to_json(o.defaults);
  if (!o.config_file.empty()) recipe.update(read_json_file(o.config_file));
  const nlohmann::json flags = to_json(o.flags);
  for (const CLI::Option* option : cmd.get_options()) {
    std::string key = option->get_name();
    key = key.substr(key.find_first_not_of('-'));
    std::replace(key.begin(), key.end(), '-', '_');
    if (option->count() > 0 && flags.contains(key)) recipe[key] = flags[key];
  }
  if (cmd.count("--teacher") > 0) {
    if (!recipe["distillation"].is_object()) recipe["distillation"] = nlohmann::json::object();
    recipe["distillation"]["teacher"] = o.distillation.teacher;
    if (cmd.count("--temperature") > 0) recipe["distillation"]["temperature"] = o.distillation.temperature;
    if (cmd.count("--distill-weight") > 0) recipe["distillation"]["weight"] = o.distillation.weight;
    if (cmd.count("--teacher-model") > 0) recipe["distillation"]["teacher_model"] = o.distillation.teacher_model;
  }
  return train_config_from_json(recipe);
}

void run_train(const TrainOptions& o, const CLI::App& cmd) {
  apply_threads(o.common);
  start_data_parallel(o.data_parallel);
  TrainConfig config = resolve_config(o, cmd);
  const torch::Device device = resolve_device(o.common.device);
  if (device.is_cuda()) at::globalContext().setBenchmarkCuDNN(true);
  const std::string commit = git_commit();  // of the code that trains, not of HEAD when it ends
  torch::manual_seed(uint64_t(config.seed));  // weight initialization
  const bool masked = !o.init_weights.empty();
  auto model = masked ? load_model(o.init_weights, config.model) : open_model(config.model);
  // A TorchScript model is named by its file, in the recipe and the run's name.
  if (model->architecture() == "torchscript" && masked) config.model = o.init_weights;
  const DatasetInfo info = model_data(*model, o.common);
  const DataSplits data = load_data(info, o.common, config.validation_size);
  std::optional<PruneSchedule> schedule;
  if (!o.schedule_file.empty()) schedule = prune_schedule_from_json(read_json_file(o.schedule_file));
  // Masks live as long as the training that uses their hooks.
  Masks masks = Masks::from_zeros(*model);
  std::optional<TiedWeights> tied;
  if (o.tie_weights) tied.emplace(*model, shared_layers_from_values(*model));
  const TrainHooks hooks = tied       ? tied->training_hooks()
                           : schedule ? scheduled_pruning_hooks(*model, *schedule, masks)
                           : masked   ? masks.training_hooks()
                                      : TrainHooks{};
  RunControl run = o.run;
  const std::string name = is_builtin_model(config.model) ? config.model : std::filesystem::path(config.model).stem().string();
  run.run_dir = (std::filesystem::path(o.runs_dir) / (o.run_name.empty() ? name : o.run_name)).string();
  if (is_rank0())
    fmt::print(stderr, "{} {} ({} parameters) on {}: {} train / {} validation images, device {}, run {}\n",
               masked ? "masked retraining of" : "training", config.model, parameter_count(*model), info.name,
               data.train.size(), data.validation.size(), device.str(), run.run_dir);
  const TrainResult result = train(*model, config, data, info, device, run, hooks);
  if (int64_t(result.epochs.size()) < config.epochs) {
    if (is_rank0())
      fmt::print("{}: stopped after epoch {} of {}; continue with --resume\n", run.run_dir, result.epochs.size(),
                 config.epochs);
    return;
  }
  const EvalResult test = evaluate(*model, data.test, info, device, result.recipe.bf16);
  if (!is_rank0()) return;  // rank 0 writes the results

  const std::string out = o.out.empty() ? (std::filesystem::path(run.run_dir) / "model.pt").string() : o.out;
  save_model(*model, out, o.as_state_dict);
  nlohmann::json metadata = {
      {"model", config.model},
      {"format", o.as_state_dict || model->architecture() != "torchscript" ? "state_dict" : "torchscript"},
      {"dataset", info.name},
      {"parameters", parameter_count(*model)},
      {"epochs_trained", result.epochs.size()},
      {"recipe", to_json(result.recipe)},
      {"seed", config.seed},
      {"test_top1", test.top1},
      {"test_images", test.images},
      {"validation_top1", result.epochs.empty() ? 0.0 : result.epochs.back().validation_top1},
      {"wall_seconds", result.wall_seconds},
      {"device", device.str()},
      {"git_commit", commit},
      {"libtorch_version", libtorch_version()},
      {"created", utc_timestamp()},
  };
  if (masked) {
    metadata["init_weights"] = o.init_weights;
    if (schedule) metadata["prune_schedule"] = read_json_file(o.schedule_file);
    metadata["trained_quantization"] = o.tie_weights;
    metadata["sparsity"] = to_json(sparsity_report(*model));
  }
  write_file_atomic(sidecar_path(out), metadata.dump(2) + "\n");
  fmt::print("{}: test top-1 {:.2f}% on {} images, {} epochs in {}\n", out, 100 * test.top1, test.images,
             result.epochs.size(), format_duration(result.wall_seconds));
}

CLI::App* add_training_command(CLI::App& app, const std::string& name, const std::string& description,
                               const TrainConfig& defaults) {
  auto options = std::make_shared<TrainOptions>();
  options->defaults = options->flags = defaults;
  TrainConfig& c = options->flags;
  CLI::App* cmd = app.add_subcommand(name, description);
  cmd->add_option("--config", options->config_file, "JSON recipe with these settings (flags given override it)")
      ->check(CLI::ExistingFile);
  add_common_options(*cmd, options->common);
  cmd->add_option("--model", c.model, "A built-in network (" + fmt::format("{}", fmt::join(model_names(), ", ")) +
                                          ") or a TorchScript file, trained from its current weights")
      ->capture_default_str();
  cmd->add_option("--epochs", c.epochs, "Epochs")->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--batch-size", c.batch_size, "Images per step")->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--lr", c.schedule.base_lr, "Peak learning rate")->capture_default_str();
  cmd->add_option("--schedule", c.schedule.kind, "Learning-rate schedule")
      ->check(CLI::IsMember({"cosine", "multistep", "onecycle", "constant"}))->capture_default_str();
  cmd->add_option("--warmup-epochs", c.schedule.warmup_epochs, "Linear warm-up (not with onecycle)")->capture_default_str();
  cmd->add_option("--milestones", c.schedule.milestones, "multistep: epochs at which lr *= gamma")->delimiter(',');
  cmd->add_option("--gamma", c.schedule.gamma, "multistep: decay factor")->capture_default_str();
  cmd->add_option("--momentum", c.momentum, "SGD momentum")->capture_default_str();
  cmd->add_flag("--nesterov,!--no-nesterov", c.nesterov, "Nesterov momentum")->capture_default_str();
  cmd->add_option("--weight-decay", c.weight_decay, "L2 weight decay")->capture_default_str();
  cmd->add_option("--label-smoothing", c.label_smoothing, "Label smoothing")->capture_default_str();
  cmd->add_option("--cutout", c.cutout, "Zero a square of this side in each training image (0: none)")
      ->capture_default_str();
  cmd->add_flag("--bf16,!--fp32", c.bf16, "bf16 autocast or plain fp32")->capture_default_str();
  cmd->add_option("--seed", c.seed, "Seed for initialization, shuffling and augmentation")->capture_default_str();
  cmd->add_option("--validation-size", c.validation_size, "Images held out of the end of the training set")
      ->capture_default_str();
  auto* teacher = cmd->add_option("--teacher", options->distillation.teacher,
                                  "Distil from this model file (its logits as soft targets)")
                      ->check(CLI::ExistingFile);
  cmd->add_option("--temperature", options->distillation.temperature, "Distillation: softmax temperature")
      ->needs(teacher)->capture_default_str();
  cmd->add_option("--distill-weight", options->distillation.weight, "Distillation: weight of the soft loss")
      ->needs(teacher)->capture_default_str();
  cmd->add_option("--teacher-model", options->distillation.teacher_model,
                  "Distillation: the teacher's architecture, when it is not the student's (a built-in name)")
      ->needs(teacher);
  cmd->add_option("--name", options->run_name, "Run name (default: the model's)");
  cmd->add_option("--runs-dir", options->runs_dir, "Where runs keep checkpoints and metrics")->capture_default_str();
  cmd->add_flag("--resume", options->run.resume, "Continue the run from its last checkpoint");
  add_data_parallel_options(*cmd, options->data_parallel);
  cmd->add_option("--stop-after", options->run.stop_after_epoch, "Stop after this epoch, to --resume later")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--out", options->out,
                  "Output model (default: RUN_DIR/model.pt): a state_dict, or TorchScript for a TorchScript model; "
                  "metadata beside it");
  add_state_dict_flag(*cmd, options->as_state_dict);
  cmd->callback([options, cmd] { run_train(*options, *cmd); });
  if (name == "finetune") {
    cmd->add_option("weights", options->init_weights,
                    "Pruned model (TorchScript, or a state_dict of --model); its zeros are the mask")
        ->required();
    cmd->add_option("--prune-schedule", options->schedule_file,
                    "JSON: prune while training, e.g. {\"method\": \"percentile\", \"amount\": 0.9, "
                    "\"begin_epoch\": 0, \"end_epoch\": 10, \"every\": 1, \"shape\": \"cubic\"}")
        ->check(CLI::ExistingFile)
        ->excludes(cmd->add_flag("--tie-weights", options->tie_weights,
                                 "Trained quantization: weights sharing a value stay tied, their centroid moves by "
                                 "the sum of their gradients (use a small --lr, e.g. 1e-4)"));
  }
  return cmd;
}

}  // namespace

std::vector<std::string> model_names() {
  std::vector<std::string> names;
  for (const ModelSpec& spec : model_specs()) names.push_back(spec.name);
  return names;
}

void add_train_command(CLI::App& app) { add_training_command(app, "train", "Train a model from scratch", TrainConfig{}); }

void add_finetune_command(CLI::App& app) {
  // Han et al. retrain pruned networks at a fraction of the original rate.
  TrainConfig defaults;
  defaults.epochs = 20;
  defaults.schedule.base_lr = 0.01;
  add_training_command(app, "finetune", "Masked retraining of a pruned model: pruned weights stay exactly zero",
                       defaults);
}

}  // namespace dcomp::cli
