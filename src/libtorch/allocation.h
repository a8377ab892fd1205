// Per-layer sparsity and bits for a file-size budget, chosen from measured
// sensitivity (the pipeline's "budget"). On the validation split, with no
// retraining, it measures for every prunable layer alone the top-1 lost by
// magnitude pruning at each candidate sparsity, and by weight sharing at
// each candidate bit width; and, by packing the model with every layer at
// each (sparsity, bits), each layer's bytes in the file. The cost of a
// layer's choice is the sum of its two losses (each made non-decreasing in
// compression), and core/rate_allocation.h picks the choices that fit the
// budget at the least total cost: the layers whose bytes cost the least
// accuracy give them up first.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/compressed_file.h"
#include "libtorch/compressed_model.h"
#include "libtorch/data.h"
#include "libtorch/model.h"
#include "libtorch/weight_sharing.h"

namespace dcomp {

struct BudgetSpec {
  uint64_t file_bytes = 0;  // the whole file; or
  double ratio = 0;         // by file size: float32 parameter bytes / ratio
  std::vector<double> sparsities = {0.3, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.93, 0.95};
  std::vector<int> bits = {3, 4, 5};
};
BudgetSpec budget_spec_from_json(const nlohmann::json& j);  // rejects unknown keys and bad values
nlohmann::json to_json(const BudgetSpec& spec);

struct LayerAllocation {
  std::string name;
  double sparsity = 0;
  int bits = 0;
  double bytes = 0;          // in the file, as measured before retraining
  double pruning_loss = 0;   // validation top-1 lost, points, this layer alone
  double sharing_loss = 0;
};
struct AllocationPlan {
  uint64_t budget_bytes = 0;
  double other_bytes = 0;  // everything but the prunable layers' entries and streams
  double estimated_file_bytes = 0;
  double baseline_validation_top1 = 0;  // what the losses are measured from
  std::vector<LayerAllocation> layers;
  nlohmann::json sensitivity;  // every measurement, per layer
};
nlohmann::json to_json(const AllocationPlan& plan);
AllocationPlan allocation_plan_from_json(const nlohmann::json& j);

// The plan for `model`, a dense baseline (left as it was). `sharing` gives
// the quantizer; `packing` how the file stores BN and biases.
AllocationPlan plan_allocation(Model& model, const BudgetSpec& budget, const ShareSpec& sharing,
                               const TensorDataset& validation, const DatasetInfo& info, const torch::Device& device,
                               const PackOptions& packing);

}  // namespace dcomp
