// Training and evaluation of a classifier: SGD with momentum, a learning-rate
// schedule, batched augmentation, optional bf16 autocast, and a resumable
// checkpoint after every epoch.
#pragma once

#include <torch/torch.h>

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "libtorch/data.h"
#include "libtorch/data_parallel.h"
#include "libtorch/model.h"
#include "libtorch/schedule.h"

namespace dcomp {

// Knowledge distillation (Hinton et al. 2015): the loss is
//   (1 - weight) * CE(student, labels) + weight * T^2 * KL(softmax(teacher / T) || softmax(student / T)),
// the teacher's logits computed on the same augmented batch, in eval mode,
// without gradients. T^2 keeps the soft term's gradient scale independent of T.
struct Distillation {
  std::string teacher;  // a model file; the pipeline's default is its baseline
  double temperature = 4.0;
  double weight = 0.5;
  std::string teacher_model{};  // the teacher's architecture when it is not the student's (e.g. resnet56)
};

// Everything that defines a training run; saved with every checkpoint.
struct TrainConfig {
  std::string model = "resnet20";
  int64_t epochs = 100;
  int64_t batch_size = 128;
  LrSchedule schedule;
  double momentum = 0.9;
  bool nesterov = true;
  double weight_decay = 5e-4;
  double label_smoothing = 0.0;
  int64_t cutout = 0;  // side of the square zeroed in each training image (0: none)
  bool bf16 = true;  // bf16 autocast (CPU with AVX-512 BF16, or CUDA)
  int64_t seed = 0;
  int64_t validation_size = 5000;  // held out of the end of the training set
  std::optional<Distillation> distillation;
};

nlohmann::json to_json(const TrainConfig& config);
TrainConfig train_config_from_json(const nlohmann::json& j);  // rejects unknown keys

struct EvalResult {
  double top1 = 0;                // fraction correct
  std::vector<double> per_class;  // fraction correct per label
  int64_t images = 0;
};

// Top-1 over the whole `data` (eval mode, no gradients), in batches. Under
// data-parallel training each rank evaluates its shard and the counts are
// summed, so every rank gets the figure of one process.
EvalResult evaluate(Model& model, const TensorDataset& data, const DatasetInfo& info,
                    const torch::Device& device, bool bf16 = false, int64_t batch_size = 1000);

// Hooks that let later stages (masked retraining, trained quantization)
// reuse the same loop.
struct TrainHooks {
  std::function<void(int64_t epoch)> before_epoch;  // 0-based; e.g. a pruning schedule
  std::function<void()> after_backward;             // e.g. mask gradients
  std::function<void()> after_step;                 // e.g. re-apply masks
};

// The pieces of train(), shared with the benchmarks.
std::unique_ptr<torch::optim::SGD> make_optimizer(Model& model, const TrainConfig& config);

// The teacher of config.distillation, loaded for `info` on `device`, in
// eval mode; null without distillation.
std::unique_ptr<Model> load_teacher(const TrainConfig& config, const DatasetInfo& info, const torch::Device& device);

// A data-parallel step: this rank's images are `slice` of the global batch,
// and `group` sums the gradients, each rank's weighted by its share.
struct StepShard {
  DataParallel* group = nullptr;
  BatchSlice slice;
};

// One step on a batch of stored uint8 images (B, C, H, W): augment,
// normalize, forward (under bf16 autocast if configured), the loss in fp32
// (cross-entropy, with the teacher's soft targets under distillation),
// backward, the gradients summed across ranks, optimizer step. A rank with
// no images (the last global batch smaller than the world) still joins the
// sum with zero gradients.
struct StepOutput {
  torch::Tensor loss, logits;
};
StepOutput train_step(Model& model, torch::optim::SGD& optimizer, const torch::Tensor& images,
                      const torch::Tensor& labels, const DatasetInfo& info, torch::Generator& generator,
                      const TrainConfig& config, const TrainHooks& hooks = {}, Model* teacher = nullptr,
                      const StepShard& shard = {});

struct EpochRecord {
  int64_t epoch = 0;  // 1-based
  double lr = 0, train_loss = 0, train_top1 = 0, validation_top1 = 0;
  double seconds = 0, images_per_second = 0;
};
nlohmann::json to_json(const EpochRecord& r);

// Where a run keeps its state, and how much of it to do now.
struct RunControl {
  std::string run_dir;  // checkpoint.pt, metrics.jsonl, config.json
  bool resume = false;  // continue from run_dir/checkpoint.pt (same config)
  int64_t stop_after_epoch = 0;  // > 0: return after this epoch (resume later)
};

// Whether a training step of `model` fails under bf16 autocast (a missing
// bf16 kernel), and how; tried on two random images, leaving the model as
// it was.
std::optional<std::string> bf16_training_fault(Model& model, const DatasetInfo& info, const torch::Device& device);

// The recipe as it runs on `device`: bf16 turned off on a CPU without fast
// bf16 kernels (autocast.h) and for a TorchScript model with an op that has
// no bf16 kernel (each said on stderr). train() applies it; what reports a
// recipe's speed applies it too, so that it says what it timed.
TrainConfig recipe_as_run(TrainConfig config, Model& model, const DatasetInfo& info, const torch::Device& device);

// Trains `model` on data.train for config.epochs, evaluating data.validation
// after each epoch and checkpointing it to the run directory, with the
// recipe as it runs here (recipe_as_run).
//
// Data-parallel (data_parallel() set): every rank starts from rank 0's
// weights and runs the same recipe (checked); each step's global batch is
// config.batch_size images per rank, shuffled by one generator that every
// rank holds in the same state, and each rank trains on its contiguous share.
// BatchNorm statistics stay local during an epoch and are rank 0's after it
// (DDP's broadcast_buffers), so that evaluation and checkpoints see one
// model. Rank 0 alone writes the run directory and draws progress.
struct TrainResult {
  TrainConfig recipe;  // as trained: bf16 turned off where it could not be used
  std::vector<EpochRecord> epochs;
  double wall_seconds = 0;  // this invocation and earlier resumed ones
};
TrainResult train(Model& model, const TrainConfig& config, const DataSplits& data,
                  const DatasetInfo& info, const torch::Device& device, const RunControl& run,
                  const TrainHooks& hooks = {});

}  // namespace dcomp
