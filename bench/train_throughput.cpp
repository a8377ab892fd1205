// Training and evaluation throughput on CIFAR-10 through dcomp's own
// training step (the one `dcomp train` runs), of the built-in ResNet-20 or
// any model file (a TorchScript module: --model FILE). Prints one JSON
// line; bench/compare_training.py runs it against plain PyTorch. --trace
// writes a Chrome trace of a few more steps (bench/profile_summary.py).
// --no-graph-optimize turns off TorchScript's graph-executor optimization.
#include <ATen/CPUGeneratorImpl.h>
#include <dlfcn.h>
#include <fmt/core.h>
#include <torch/csrc/autograd/profiler_legacy.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <nlohmann/json.hpp>

#include <torch/csrc/jit/python/update_graph_executor_opt.h>

#include "libtorch/model_file.h"
#include "libtorch/train.h"

using namespace dcomp;
using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
  CLI::App app{"ResNet-20 training and evaluation images/s"};
  std::string data_dir = "../shared/data/cifar-10-batches-bin";
  int64_t steps = 30, warmup = 5, eval_images = 5000, trace_steps = 6;
  std::string trace_path;
  int threads = 1;
  std::string model_name = "resnet20";
  bool graph_optimize = true;
  TrainConfig config;
  app.add_option("--model", model_name, "A built-in network or a TorchScript file")->capture_default_str();
  app.add_flag("--graph-optimize,!--no-graph-optimize", graph_optimize, "TorchScript graph-executor optimization")
      ->capture_default_str();
  std::string teacher_file;
  app.add_option("--teacher", teacher_file, "Distil from this model file: the cost of the teacher's forward pass");
  app.add_option("--data", data_dir, "CIFAR-10 directory")->capture_default_str();
  app.add_option("--steps", steps, "Timed training steps")->capture_default_str();
  app.add_option("--warmup", warmup, "Untimed steps first")->capture_default_str();
  app.add_option("--threads", threads, "CPU threads")->capture_default_str();
  app.add_option("--batch-size", config.batch_size, "Images per step")->capture_default_str();
  app.add_option("--eval-images", eval_images, "Images to evaluate")->capture_default_str();
  app.add_flag("--bf16,!--fp32", config.bf16, "bf16 autocast")->capture_default_str();
  app.add_option("--trace", trace_path, "Write a Chrome trace of --trace-steps more steps here");
  app.add_option("--trace-steps", trace_steps, "Training steps in the trace")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  try {
    torch::set_num_threads(threads);
    const DatasetInfo& info = dataset_info("cifar10");
    const DataSplits data = load_splits(info, data_dir, 5000);
    torch::manual_seed(0);
    auto model = open_model(model_name);
    // After loading: with it off, TorchScript compiles methods uninlined, and
    // the module's analysis (its prunable weights) needs them inlined.
    torch::jit::setGraphExecutorOptimize(graph_optimize);
    model->train();
    config = recipe_as_run(config, *model, info, torch::kCPU);  // what is timed is what is reported
    if (!teacher_file.empty()) config.distillation = Distillation{teacher_file};
    const auto teacher = load_teacher(config, info, torch::kCPU);
    auto optimizer = make_optimizer(*model, config);
    torch::Generator generator = at::make_generator<at::CPUGeneratorImpl>(0);
    auto order = torch::randperm(data.train.size(), generator, torch::kInt64);
    // Loading share: the same batch preparation train_step() does first
    // (gather, augment, normalize), timed alone over the same batches.
    double data_seconds = 0;
    for (int64_t step = warmup; step < warmup + steps; ++step) {
      auto index = order.slice(0, step * config.batch_size, (step + 1) * config.batch_size);
      const auto start = Clock::now();
      auto batch = normalize(augment(data.train.images.index_select(0, index), info, generator), info);
      batch.sum().item<float>();
      data_seconds += std::chrono::duration<double>(Clock::now() - start).count();
    }
    auto run_step = [&](int64_t step) {
      auto index = order.slice(0, step * config.batch_size, (step + 1) * config.batch_size);
      const StepOutput out = train_step(*model, *optimizer, data.train.images.index_select(0, index),
                                        data.train.labels.index_select(0, index), info, generator, config, {},
                                        teacher.get());
      out.loss.item<float>();  // the step is complete
    };
    double train_seconds = 0;
    for (int64_t step = 0; step < warmup + steps; ++step) {
      const auto start = Clock::now();
      run_step(step);
      if (step >= warmup) train_seconds += std::chrono::duration<double>(Clock::now() - start).count();
    }
    if (!trace_path.empty()) {
      torch::autograd::profiler::RecordProfile profile(trace_path);
      for (int64_t step = warmup + steps; step < warmup + steps + trace_steps; ++step) run_step(step);
    }
    const auto start = Clock::now();
    evaluate(*model, data.validation.slice(0, eval_images), info, torch::kCPU, config.bf16);
    const double eval_seconds = std::chrono::duration<double>(Clock::now() - start).count();
    nlohmann::json result = {{"implementation", "dcomp"},
                             {"model", model_name},
                             {"graph_optimize", graph_optimize},
                             {"teacher", teacher_file},
                             {"threads", threads},
                             {"bf16", config.bf16},
                             {"allocator", dlsym(RTLD_DEFAULT, "tc_malloc") ? "tcmalloc" : "glibc malloc"},
                             {"train_images_per_second", double(steps * config.batch_size) / train_seconds},
                             {"eval_images_per_second", double(eval_images) / eval_seconds},
                             {"data_share_of_step", data_seconds / train_seconds}};
    fmt::print("{}\n", result.dump());
  } catch (const std::exception& e) {
    fmt::print(stderr, "train_throughput: error: {}\n", e.what());
    return 1;
  }
  return 0;
}
