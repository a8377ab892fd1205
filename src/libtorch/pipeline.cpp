#include "libtorch/pipeline.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <optional>

#include "core/atomic_file.h"
#include "libtorch/coding_report.h"
#include "libtorch/compressed_model.h"
#include "libtorch/data_parallel.h"
#include "libtorch/json_file.h"
#include "libtorch/model_file.h"
#include "libtorch/models.h"
#include "libtorch/runtime_info.h"
#include "libtorch/seed_artifacts.h"
#include "libtorch/state_dict.h"

namespace dcomp {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

// With a budget, the schedule alone (the plan gives the targets).
json schedule_to_json(const PruneSchedule& s, bool budget) {
  json targets = json::array();
  for (const auto& [pattern, sparsity] : s.target.targets) targets.push_back({pattern, sparsity});
  json j = {{"initial", s.initial}, {"begin_epoch", s.begin_epoch}, {"end_epoch", s.end_epoch},
            {"every", s.every},     {"shape", s.shape}};
  if (s.feedback) j["feedback"] = true;
  if (budget) return j;
  j["method"] = s.target.method;
  if (s.target.method == "layerwise") j["targets"] = targets;
  else j["amount"] = s.target.amount;
  return j;
}

// A budget's schedule: the plan's targets stand in for the placeholder.
PruneSchedule budget_schedule_from_json(json j) {
  for (const char* key : {"method", "targets", "amount"})
    if (j.contains(key))
      throw std::invalid_argument(std::string("with a budget the plan chooses the pruning targets: '") + key +
                                  "' does not belong in 'pruning'");
  j["method"] = "layerwise";
  j["targets"] = json::array({json::array({"*", 0.0})});
  return prune_schedule_from_json(j);
}

// What the stages share: the config, the data, and where things go.
struct Stages {
  const PipelineConfig& config;
  const PipelineRun& run;
  const DataSplits& data;
  const DatasetInfo& info;
  torch::Device device;
  mutable std::optional<AllocationPlan> cached_plan;  // measured, or read from the run directory, once per run

  fs::path dir(const std::string& stage) const { return stage_directory(run.run_dir, stage); }
  fs::path weights(const std::string& stage) const { return dir(stage) / "model.pt"; }
  // Every stage's model is the config's kind: built-in state_dicts, or
  // TorchScript throughout.
  std::unique_ptr<Model> load_file(const std::string& path) const {
    return load_model_for(path, config.model, info, device);
  }
  std::unique_ptr<Model> load(const std::string& stage) const {
    return load_file(stage == "baseline" ? baseline_path().string() : weights(stage).string());
  }
  fs::path baseline_path() const {
    return fs::exists(config.baseline) || !config.baseline_training ? fs::path(config.baseline) : weights("baseline");
  }
  json accuracy(Model& model) const {
    return {{"test_top1", evaluate(model, data.test, info, device).top1},
            {"validation_top1", evaluate(model, data.validation, info, device).top1}};
  }
  // Trains `model` in the stage's own resumable run directory.
  TrainResult train_in(const std::string& stage, Model& model, TrainConfig c, const TrainHooks& hooks) const {
    c.model = config.model;
    if (c.distillation && c.distillation->teacher.empty()) c.distillation->teacher = baseline_path().string();
    RunControl control{(dir(stage) / "run").string(), false, 0};
    control.resume = fs::exists(fs::path(control.run_dir) / "checkpoint.pt");
    return train(model, c, data, info, device, control, hooks);
  }
  // Rank 0 writes; every rank reads it back after.
  void save(const std::string& stage, const Model& model) const {
    if (is_rank0()) model.save(weights(stage).string());
    wait_for_rank0("the " + stage + " weights written");
  }

  json baseline() const {
    if (!fs::exists(config.baseline)) {
      if (!config.baseline_training)
        throw std::runtime_error(config.baseline + ": baseline not found and the config has no baseline_training");
      torch::manual_seed(uint64_t(config.baseline_training->seed));
      auto model = open_model(config.model);
      model->set_data(info);
      const TrainResult r = train_in("baseline", *model, *config.baseline_training, {});
      save("baseline", *model);
      json record = accuracy(*model);
      record["trained_seconds"] = r.wall_seconds;
      return record;
    }
    json record = accuracy(*load("baseline"));
    record["weights"] = config.baseline;
    return record;
  }

  // The budget's plan, measured once and kept in the run directory.
  const AllocationPlan& plan() const {
    if (cached_plan) return *cached_plan;
    const fs::path path = fs::path(run.run_dir) / "plan.json";
    if (rank0_decides("plan measured before", fs::exists(path)))
      return cached_plan.emplace(allocation_plan_from_json(read_json_file(path.string())));
    if (is_rank0()) fmt::print("plan: per-layer sensitivity on the validation split, for a budget\n");
    auto model = load("baseline");
    cached_plan = plan_allocation(*model, *config.budget, config.weight_sharing, data.validation, info, device,
                                  config.pack_options());
    if (is_rank0()) {
      write_file_atomic(path.string(), to_json(*cached_plan).dump(2) + "\n");
      fmt::print("plan: {:.0f} bytes estimated for a budget of {} ({})\n", cached_plan->estimated_file_bytes,
                 cached_plan->budget_bytes, path.string());
    }
    wait_for_rank0("the plan written");
    return *cached_plan;
  }

  PruneSchedule pruning() const {
    PruneSchedule s = config.pruning;
    if (!config.budget) return s;
    s.target.targets.clear();
    for (const LayerAllocation& l : plan().layers) s.target.targets.emplace_back(l.name, l.sparsity);
    return s;
  }

  ShareSpec weight_sharing() const {
    ShareSpec s = config.weight_sharing;
    if (!config.budget) return s;
    std::vector<std::pair<std::string, int>> bits;
    for (const LayerAllocation& l : plan().layers) bits.emplace_back(l.name, l.bits);
    s.layer_bits.insert(s.layer_bits.begin(), bits.begin(), bits.end());
    return s;
  }

  json prune() const {
    std::unique_ptr<Model> model;
    json record;
    if (config.pruned.empty()) {
      model = load("baseline");
      Masks masks = Masks::from_zeros(*model);
      record["trained_seconds"] =
          train_in("prune", *model, config.retraining, scheduled_pruning_hooks(*model, pruning(), masks))
              .wall_seconds;
    } else {
      model = load_file(config.pruned);
      record["weights"] = config.pruned;
    }
    save("prune", *model);
    record.update(accuracy(*model));
    record["sparsity"] = to_json(sparsity_report(*model));
    return record;
  }

  json share() const {
    auto model = load("prune");
    share_weights(*model, weight_sharing(), data.train, info, device);
    save("share", *model);
    return accuracy(*model);
  }

  json trained_quantization() const {
    auto model = load("share");
    TiedWeights tied(*model, shared_layers_from_values(*model));
    json record;
    if (config.trained_quantization.epochs > 0)
      record["trained_seconds"] = train_in("trained_quantization", *model, config.trained_quantization,
                                           tied.training_hooks()).wall_seconds;
    save("trained_quantization", *model);
    record.update(accuracy(*model));
    return record;
  }

  json pack() const {
    auto model = load("trained_quantization");
    if (!is_rank0()) return accuracy(*model);  // rank 0 writes the file; the others join its evaluation
    const FileReport report =
        dcomp::pack(*model, (dir("pack") / (model_name(config) + ".dcz")).string(), config.pack_options());
    fmt::print("{}", format_table(report));
    json record = accuracy(*model);  // the model as the file holds it
    record.update({{"file", to_json(report)}, {"coding", to_json(report.coding)}});
    return record;
  }

  json artifacts() const {
    if (!is_rank0()) return {};
    auto quantized = load("trained_quantization");
    const std::vector<std::string> files =
        write_seed_artifacts(dir("artifacts").string(), model_name(config), load("baseline")->state_dict(),
                             load("prune")->state_dict(), *quantized);
    return {{"files", files}};
  }

  json run_stage(const std::string& stage) const {
    if (stage == "baseline") return baseline();
    if (stage == "prune") return prune();
    if (stage == "share") return share();
    if (stage == "trained_quantization") return trained_quantization();
    if (stage == "pack") return pack();
    return artifacts();
  }
};

json summary(const PipelineConfig& config, const PipelineRun& run, const std::vector<json>& records) {
  const json& file = records[4]["file"];
  const json& coding = records[4]["coding"];
  json bits = json::object(), huffman_bits = json::object(), wall = json::object();
  for (const json& layer : coding["layers"]) {
    bits[layer["name"].get<std::string>()] = layer["bits"];
    huffman_bits[layer["name"].get<std::string>()] = layer["average_huffman_bits"];
  }
  json top1 = json::object(), validation_top1 = json::object(), training = json::object();
  for (size_t i = 0; i < records.size(); ++i) {
    wall[pipeline_stages()[i]] = records[i]["wall_seconds"];
    if (records[i].contains("trained_seconds")) training[pipeline_stages()[i]] = records[i]["trained_seconds"];
    if (records[i].contains("test_top1")) top1[pipeline_stages()[i]] = records[i]["test_top1"];
    if (records[i].contains("validation_top1")) validation_top1[pipeline_stages()[i]] = records[i]["validation_top1"];
  }
  // Final: the model as the compressed file holds it.
  const double baseline_top1 = records[0]["test_top1"], final_top1 = records[4]["test_top1"];
  json out = {{"model", model_name(config)},
              {"baseline_top1", baseline_top1},
              {"final_top1", final_top1},
              {"top1_loss_points", 100 * (baseline_top1 - final_top1)},
              {"test_top1_by_stage", top1},
              {"validation_top1_by_stage", validation_top1},
              {"nonzero", coding["nonzeros"]},
              {"total", coding["weights"]},
              {"bits_per_layer", bits},
              {"huffman_bits_per_layer", huffman_bits},
              {"average_huffman_bits", coding["average_huffman_bits"]},
              {"ratio_formula", coding["ratio_formula"]},
              {"compression_formula", coding["compression_formula"]},
              {"ratio_file", file["ratio_file"]},
              {"compression_file", file["compression_file"]},
              {"file_bytes", file["file_bytes"]},
              {"file_breakdown_bytes", file["breakdown_bytes"]},
              {"stream_entropy_bytes", file["stream_entropy_bytes"]},
              // Wall time of the invocation that finished each stage; a stage
              // resumed across invocations also has its training time over all.
              {"wall_seconds_by_stage", wall},
              {"training_seconds_by_stage", training},
              {"config", to_json(config)},
              {"command", run.command},
              {"git_commit", git_commit()},
              {"libtorch_version", libtorch_version()},
              {"created", utc_timestamp()}};
  // Stages finished by a dcomp older than the validation figures have none.
  if (validation_top1.contains("baseline")) out["baseline_validation_top1"] = validation_top1["baseline"];
  if (validation_top1.contains("pack")) out["final_validation_top1"] = validation_top1["pack"];
  const fs::path plan = fs::path(run.run_dir) / "plan.json";
  if (config.budget && fs::exists(plan)) {
    json p = read_json_file(plan.string());
    p.erase("sensitivity");
    out["allocation"] = p;
  }
  return out;
}

}  // namespace

std::string stage_directory(const std::string& run_dir, const std::string& stage) {
  const auto& names = pipeline_stages();
  const size_t i = size_t(std::find(names.begin(), names.end(), stage) - names.begin());
  return (fs::path(run_dir) / fmt::format("{}_{}", i + 1, stage)).string();
}

const std::vector<std::string>& pipeline_stages() {
  static const std::vector<std::string> kStages = {"baseline", "prune", "share", "trained_quantization", "pack",
                                                   "artifacts"};
  return kStages;
}

PipelineConfig pipeline_config_from_json(const json& j) {
  // Either the prune stage's settings or its result, not both.
  for (const std::string key : {"pruning", "retraining"})
    if (j.contains(key) == j.contains("pruned"))
      throw std::invalid_argument("the pipeline config needs '" + key + "' or 'pruned', not both");
  PipelineConfig c;
  for (const auto& [key, value] : j.items()) {
    if (key == "model") value.get_to(c.model);
    else if (key == "data") c.data = data_source_from_json(value);
    else if (key == "baseline") value.get_to(c.baseline);
    else if (key == "baseline_training") c.baseline_training = train_config_from_json(value);
    else if (key == "pruning") c.pruning = j.contains("budget") ? budget_schedule_from_json(value) : prune_schedule_from_json(value);
    else if (key == "budget") c.budget = budget_spec_from_json(value);
    else if (key == "retraining") c.retraining = train_config_from_json(value);
    else if (key == "weight_sharing") c.weight_sharing = share_spec_from_json(value);
    else if (key == "trained_quantization") c.trained_quantization = train_config_from_json(value);
    else if (key == "pruned") value.get_to(c.pruned);
    else if (key == "dense_float16") value.get_to(c.dense_float16);
    else if (key == "fold_batchnorm") value.get_to(c.fold_batchnorm);
    else throw std::invalid_argument("unknown pipeline setting '" + key + "'");
  }
  if (c.baseline.empty()) throw std::invalid_argument("the pipeline config needs a baseline path");
  if (c.budget && !c.pruned.empty()) throw std::invalid_argument("a budget plans the pruning: it needs 'pruning', not 'pruned'");
  if (c.budget && c.weight_sharing.hessian_images > 0)
    throw std::invalid_argument("a budget's plan measures plain k-means: hessian_images does not combine with it");
  for (const std::string key : {"weight_sharing", "trained_quantization"})
    if (!j.contains(key)) throw std::invalid_argument("the pipeline config needs '" + key + "'");
  if (c.retraining.validation_size != c.trained_quantization.validation_size)
    throw std::invalid_argument("retraining and trained_quantization must hold out the same validation split");
  return c;
}

PackOptions PipelineConfig::pack_options() const {
  return {dense_float16 ? dcz::Storage::kFloat16 : dcz::Storage::kFloat32, dcz::Coder::kHuffman, fold_batchnorm};
}

json to_json(const PipelineConfig& c) {
  json j = {{"model", c.model},
            {"baseline", c.baseline},
            {"weight_sharing", to_json(c.weight_sharing)},
            {"trained_quantization", to_json(c.trained_quantization)},
            {"dense_float16", c.dense_float16},
            {"fold_batchnorm", c.fold_batchnorm}};
  if (!c.data.dataset.empty()) j["data"] = to_json(c.data);
  if (c.baseline_training) j["baseline_training"] = to_json(*c.baseline_training);
  if (c.pruned.empty()) {
    j["pruning"] = schedule_to_json(c.pruning, c.budget.has_value());
    if (c.budget) j["budget"] = to_json(*c.budget);
    j["retraining"] = to_json(c.retraining);
  } else {
    j["pruned"] = c.pruned;
  }
  return j;
}

std::string model_name(const PipelineConfig& config) {
  return is_builtin_model(config.model) ? config.model : fs::path(config.model).stem().string();
}

json run_pipeline(const PipelineConfig& config, const PipelineRun& run, const DataSplits& data,
                  const DatasetInfo& info, const torch::Device& device) {
  const auto& names = pipeline_stages();
  const auto from = run.from_stage.empty() ? names.end() : std::find(names.begin(), names.end(), run.from_stage);
  if (!run.from_stage.empty() && from == names.end())
    throw std::invalid_argument("unknown stage '" + run.from_stage + "'");

  // The run keeps the config it was started with; a different one needs a new run.
  const fs::path config_copy = fs::path(run.run_dir) / "config.json";
  // Under data-parallel training every rank runs every stage (they train and
  // evaluate together); rank 0 alone writes, and decides what is done.
  if (DataParallel* group = data_parallel()) group->check_same("pipeline config", to_json(config).dump());
  if (is_rank0()) {
    if (fs::exists(config_copy) && read_json_file(config_copy.string()) != to_json(config))
      throw std::runtime_error(config_copy.string() +
                               ": this run was started with another config; use a new run directory");
    write_file_atomic(config_copy.string(), to_json(config).dump(2) + "\n");
  }

  const Stages stages{config, run, data, info, device, {}};
  std::vector<json> records;
  for (auto it = names.begin(); it != names.end(); ++it) {
    const fs::path record_path = stages.dir(*it) / "stage.json";
    if (it >= from && is_rank0()) fs::remove(record_path);  // redo this stage and those after it
    if (rank0_decides("stage " + *it + " done before", fs::exists(record_path))) {
      records.push_back(read_json_file(record_path.string()));
      if (is_rank0()) fmt::print("{}: done before ({})\n", *it, record_path.string());
      continue;
    }
    if (is_rank0()) fmt::print("{}: running\n", *it);
    const auto start = std::chrono::steady_clock::now();
    json record = stages.run_stage(*it);
    // Wall time of this stage: training time over all its resumed sessions
    // plus the rest of this invocation.
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    record["wall_seconds"] = seconds;
    if (!is_rank0()) continue;  // its records are rank 0's
    if (record.contains("test_top1"))
      fmt::print("{}: test top-1 {:.2f}%, {:.0f} s\n", *it, 100 * record["test_top1"].get<double>(), seconds);
    write_file_atomic(record_path.string(), record.dump(2) + "\n");
    records.push_back(record);
  }
  if (!is_rank0()) return nullptr;
  const json s = summary(config, run, records);
  write_file_atomic((fs::path(run.run_dir) / "summary.json").string(), s.dump(2) + "\n");
  return s;
}

}  // namespace dcomp
