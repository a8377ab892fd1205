// Inference speed and weight memory of a compressed file in dcomp's
// LibTorch-free runtime, against LibTorch running the dense float32 baseline
// and the same quantized weights expanded to dense. Batch-1 latency and
// batch-N throughput, interleaved over repetitions; prints JSON lines.
//   runtime_inference --file results/lenet300/lenet300.dcz --baseline models/lenet300_fmnist_baseline.pt
#include <fmt/core.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>

#include "core/compressed_file.h"
#include "libtorch/compressed_model.h"
#include "libtorch/model_file.h"
#include "libtorch/models.h"
#include "runtime/dcomp_runtime.h"

using namespace dcomp;
using Clock = std::chrono::steady_clock;

namespace {

// Median seconds per call of f over `calls` calls (after two untimed).
template <typename F>
double seconds_per_call(F f, int calls) {
  f(), f();
  std::vector<double> times;
  for (int i = 0; i < calls; ++i) {
    const auto start = Clock::now();
    f();
    times.push_back(std::chrono::duration<double>(Clock::now() - start).count());
  }
  std::nth_element(times.begin(), times.begin() + long(times.size() / 2), times.end());
  return times[times.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Runtime against LibTorch: latency, throughput, weight memory"};
  std::string file, baseline;
  int batch = 128, reps = 5, calls = 50, threads = 1;
  app.add_option("--file", file, "Compressed model (.dcz)")->required();
  app.add_option("--baseline", baseline, "The dense float32 model it was made from (state_dict or TorchScript)")->required();
  app.add_option("--batch", batch, "Batch size for throughput")->capture_default_str();
  app.add_option("--reps", reps, "Interleaved repetitions")->capture_default_str();
  app.add_option("--calls", calls, "Batch-1 calls per repetition (throughput: calls / 10)")->capture_default_str();
  app.add_option("--threads", threads, "Threads, for LibTorch and the runtime alike")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  try {
    torch::set_num_threads(threads);
    const dcz::Model decoded = dcz::read(file);
    const std::string architecture = *decoded.find("model");
    // The baseline: a built-in network's state_dict or the user's TorchScript module.
    auto dense = load_model(baseline, architecture), quantized = load_model(baseline, architecture);
    load_state_dict(*quantized, expanded_state_dict(decoded));
    dense->eval(), quantized->eval();
    dcomp_model* runtime = nullptr;
    if (dcomp_load(file.c_str(), &runtime) != DCOMP_OK || dcomp_set_threads(runtime, threads) != DCOMP_OK)
      throw std::runtime_error(dcomp_last_error());
    const int64_t c = dcomp_input_channels(runtime), h = dcomp_input_height(runtime), w = dcomp_input_width(runtime);
    torch::manual_seed(0);
    const torch::Tensor images = torch::randn({batch, c, h, w});
    torch::Tensor logits = torch::empty({batch, dcomp_classes(runtime)});
    torch::NoGradGuard no_grad;
    auto run_runtime = [&](int n) { dcomp_run(runtime, images.data_ptr<float>(), n, logits.data_ptr<float>()); };
    auto run_torch = [&](Model& m, int n) { m.forward(images.slice(0, 0, n)); };

    const uint64_t dense_bytes = 4 * uint64_t(parameter_count(*dense));
    fmt::print("{}\n", nlohmann::json{{"file", file},
                                      {"runtime_weight_bytes", dcomp_weight_bytes(runtime)},
                                      {"dense_weight_bytes", dense_bytes},
                                      {"memory_ratio", double(dcomp_weight_bytes(runtime)) / double(dense_bytes)}}
                           .dump());
    for (int rep = 0; rep < reps; ++rep) {
      nlohmann::json line = {{"rep", rep}};
      for (int n : {1, batch}) {
        const int k = n == 1 ? calls : std::max(3, calls / 10);
        const double rt = seconds_per_call([&] { run_runtime(n); }, k);
        const double td = seconds_per_call([&] { run_torch(*dense, n); }, k);
        const double tq = seconds_per_call([&] { run_torch(*quantized, n); }, k);
        const std::string key = n == 1 ? "batch1" : "batch" + std::to_string(n);
        line[key] = {{"runtime_ms", 1e3 * rt},
                     {"libtorch_dense_ms", 1e3 * td},
                     {"libtorch_quantized_ms", 1e3 * tq},
                     {"speedup_vs_dense", td / rt},
                     {"speedup_vs_quantized", tq / rt}};
      }
      fmt::print("{}\n", line.dump());
    }
    dcomp_free(runtime);
  } catch (const std::exception& e) {
    fmt::print(stderr, "runtime_inference: error: {}\n", e.what());
    return 1;
  }
  return 0;
}
