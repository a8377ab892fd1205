// Deep Compression end to end (Han et al. 2015, figure 1), as stages that
// each save their output in a run directory, so that a killed run resumes
// and one stage can run again alone:
//   baseline -> prune (gradual, per-layer targets, with masked retraining)
//   -> share (k-means) -> trained_quantization -> pack (Huffman-coded file)
//   -> artifacts (the seed's six files and the zip).
// The whole run is one JSON config (configs/*.json), copied into the run.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "libtorch/allocation.h"
#include "libtorch/data.h"
#include "libtorch/prune.h"
#include "libtorch/train.h"
#include "libtorch/weight_sharing.h"

namespace dcomp {

struct PipelineConfig {
  // A built-in network's name, or a TorchScript file (its weights unused
  // unless it is the baseline too).
  std::string model = "resnet20";
  DataSource data;  // dataset empty: the model's own
  std::string baseline;                          // trained weights to start from
  std::optional<TrainConfig> baseline_training;  // how to train them if the file is missing
  PruneSchedule pruning;                         // targets reached during `retraining`
  // With a budget, the prune stage first plans each layer's sparsity and
  // bits for it (RUN_DIR/plan.json): `pruning` then gives only the
  // schedule, and the plan's bits override `weight_sharing`'s.
  std::optional<BudgetSpec> budget;
  // retraining and trained_quantization may distil; their teacher defaults
  // to the baseline.
  TrainConfig retraining;
  // Instead of pruning and retraining: a model pruned and retrained before
  // (another run's net_after_pruning.pt), so that runs differing only in
  // the later stages share that hour of training.
  std::string pruned;
  ShareSpec weight_sharing;
  TrainConfig trained_quantization;  // epochs 0: k-means alone
  // Precision of the tensors stored whole (BN, biases): float16 halves
  // their bytes; the pack stage measures top-1 as the file holds them.
  bool dense_float16 = false;
  // BatchNorm folded for inference in the file (PackOptions).
  bool fold_batchnorm = false;
  PackOptions pack_options() const;
};
// Keys: model, data, baseline, baseline_training, pruning and retraining
// (or pruned), budget, weight_sharing, trained_quantization, dense_float16,
// fold_batchnorm;
// unknown keys are errors.
PipelineConfig pipeline_config_from_json(const nlohmann::json& j);
nlohmann::json to_json(const PipelineConfig& config);

// What the run's files are named after: the built-in name, or the
// TorchScript file's stem.
std::string model_name(const PipelineConfig& config);

const std::vector<std::string>& pipeline_stages();
// Where a run keeps a stage's files: RUN_DIR/<number>_<stage>.
std::string stage_directory(const std::string& run_dir, const std::string& stage);

struct PipelineRun {
  std::string run_dir;
  std::string from_stage;  // empty: resume; else redo this stage and those after it
  std::string command;     // recorded in the summary
};

// Runs the stages not yet done and writes RUN_DIR/summary.json; returns it.
nlohmann::json run_pipeline(const PipelineConfig& config, const PipelineRun& run, const DataSplits& data,
                            const DatasetInfo& info, const torch::Device& device);

}  // namespace dcomp
