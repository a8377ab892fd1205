// Peak resident memory of a process that runs a compressed file with the
// runtime alone (no LibTorch in it): load, then `--calls` runs of `--batch`
// random images. Prints one JSON line: the peak (VmHWM), the weights'
// share of it, and the process's peak before loading (code and libraries).
//   runtime_memory --file results/lab4/resnet20.dcz --batch 1
#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <string>
#include <random>
#include <vector>

#include "runtime/dcomp_runtime.h"

namespace {

// This process's own high-water mark (VmHWM). getrusage's ru_maxrss would
// not do: Linux carries it across exec, so a child of a larger parent (the
// Python script that starts this) reports the parent's.
double peak_rss_mib() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024;  // "VmHWM:   4900 kB"
  return -1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Peak resident memory of the runtime running a compressed model"};
  std::string file;
  int batch = 1, calls = 20, threads = 1;
  app.add_option("--file", file, "Compressed model (.dcz)")->required();
  app.add_option("--batch", batch, "Images per run")->check(CLI::Range(1, 4096))->capture_default_str();
  app.add_option("--calls", calls, "Runs")->capture_default_str();
  app.add_option("--threads", threads, "Runtime threads")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  const double before = peak_rss_mib();
  dcomp_model* model = nullptr;
  if (dcomp_load(file.c_str(), &model) != DCOMP_OK || dcomp_set_threads(model, threads) != DCOMP_OK) {
    std::fprintf(stderr, "runtime_memory: error: %s\n", dcomp_last_error());
    return 1;
  }
  const size_t floats = size_t(batch) * size_t(dcomp_input_channels(model)) * size_t(dcomp_input_height(model)) *
                        size_t(dcomp_input_width(model));
  std::vector<float> images(floats), logits(size_t(batch) * size_t(dcomp_classes(model)));
  std::mt19937 random(0);
  std::normal_distribution<float> normal;
  for (float& x : images) x = normal(random);
  for (int i = 0; i < calls; ++i)
    if (dcomp_run(model, images.data(), batch, logits.data()) != DCOMP_OK) {
      std::fprintf(stderr, "runtime_memory: error: %s\n", dcomp_last_error());
      return 1;
    }
  std::printf("{\"file\":\"%s\",\"batch\":%d,\"threads\":%d,\"peak_rss_mib\":%.1f,\"before_load_mib\":%.1f,"
              "\"weight_bytes\":%zu}\n",
              file.c_str(), batch, threads, peak_rss_mib(), before, dcomp_weight_bytes(model));
  dcomp_free(model);
  return 0;
}
