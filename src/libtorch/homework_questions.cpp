#include "libtorch/homework_questions.h"

#include <ATen/CPUGeneratorImpl.h>

#include <chrono>

#include "core/huffman.h"
#include "libtorch/coding_report.h"
#include "libtorch/model_file.h"
#include "libtorch/prune.h"
#include "libtorch/train.h"
#include "libtorch/weight_sharing.h"

namespace dcomp {

std::vector<SharingPoint> sharing_without_retraining(const std::string& model_file, const std::string& architecture,
                                                     const std::vector<int>& bits, const TensorDataset& test,
                                                     const DatasetInfo& info, const torch::Device& device) {
  std::vector<SharingPoint> points;
  for (int b : bits) {
    auto model = load_model_for(model_file, architecture, info, device);
    ShareSpec spec;
    spec.conv_bits = spec.fc_bits = b;
    const CodingReport coding = huffman_report(share_weights(*model, spec));
    points.push_back({b, evaluate(*model, test, info, device).top1, coding.average_bits, coding.nonzeros});
  }
  return points;
}

TrainingSpeed dense_and_masked_training(const std::string& pruned_file, const std::string& architecture,
                                        const TensorDataset& train, const DatasetInfo& info,
                                        const torch::Device& device, int64_t steps, int reps) {
  using Clock = std::chrono::steady_clock;
  auto model = load_model_for(pruned_file, architecture, info, device);
  const TrainConfig config = recipe_as_run(TrainConfig{}, *model, info, device);
  TrainingSpeed speed;
  speed.steps = steps;
  speed.batch_size = std::min<int64_t>(config.batch_size, train.size());
  speed.bf16 = config.bf16;
  model->train();
  const Masks masks = Masks::from_zeros(*model);
  const TrainHooks masked = masks.training_hooks();
  auto optimizer = make_optimizer(*model, config);
  torch::Generator generator = at::make_generator<at::CPUGeneratorImpl>(0);
  const int64_t batches = std::max<int64_t>(1, train.size() / speed.batch_size);
  // images/s over `steps` steps, after one untimed step.
  auto time_steps = [&](const TrainHooks& hooks) {
    double seconds = 0;
    for (int64_t step = 0; step <= steps; ++step) {
      const TensorDataset batch =
          train.slice((step % batches) * speed.batch_size, (step % batches + 1) * speed.batch_size);
      const auto start = Clock::now();
      train_step(*model, *optimizer, batch.images, batch.labels, info, generator, config, hooks)
          .loss.item<float>();  // the step is complete
      if (step > 0) seconds += std::chrono::duration<double>(Clock::now() - start).count();
    }
    return double(steps * speed.batch_size) / seconds;
  };
  // In turn, the order swapped every repetition, so that drift in the
  // machine's speed falls on both alike.
  for (int r = 0; r < reps; ++r) {
    if (r % 2) speed.masked.push_back(time_steps(masked));
    speed.dense.push_back(time_steps({}));
    masks.apply();  // dense steps moved the zeros
    if (r % 2 == 0) speed.masked.push_back(time_steps(masked));
  }
  return speed;
}

double uniform_huffman_bits(int symbols) {
  const std::vector<uint64_t> frequencies(size_t(symbols), 1);
  const std::vector<uint8_t> lengths = huffman::code_lengths(frequencies, huffman::kMaxCodeLength);
  return double(huffman::encoded_bits(frequencies, lengths)) / symbols;
}

std::vector<SharedTensorBits> shared_tensor_bits(const dcz::Model& file, const dcz::Layout& layout) {
  std::vector<SharedTensorBits> rows;
  for (size_t i = 0; i < file.tensors.size(); ++i) {
    const dcz::Tensor& t = file.tensors[i];
    if (t.storage != dcz::Storage::kShared) continue;
    rows.push_back({t.name, int64_t(t.numel()), int64_t(t.shared.positions.size()), t.shared.bits,
                    int64_t(t.shared.codebook.size()), layout.tensors[i].index_bits, layout.tensors[i].position_bits});
  }
  return rows;
}

}  // namespace dcomp
