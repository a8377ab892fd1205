// Options and helpers shared by the subcommands.
#include <torch/torch.h>

#include <chrono>
#include <filesystem>

#include "cli/commands.h"
#include "libtorch/data_parallel.h"

namespace dcomp::cli {

void add_common_options(CLI::App& command, CommonOptions& options) {
  command.add_option("--data", options.data_dir,
                     "Dataset directory (default: $DCOMP_DATA, then the dataset's default); for an image folder "
                     "ROOT with ROOT/train/<class>/*.png|*.jpg (and ROOT/val, ROOT/test if there)");
  DataSource& s = options.source;
  command.add_option("--dataset", s.dataset, "cifar10, fmnist or imagefolder (default: what the model was trained on)")
      ->check(CLI::IsMember({"cifar10", "fmnist", "imagefolder"}));
  command.add_option("--image-size", s.image_size, "imagefolder: resize the shorter side to this, then centre-crop")
      ->capture_default_str();
  command.add_option("--mean", s.mean, "imagefolder: per-channel mean (1 or 3 values; default ImageNet's)")
      ->delimiter(',');
  command.add_option("--std", s.std, "imagefolder: per-channel std")->delimiter(',');
  command.add_option("--crop-padding", s.crop_padding, "imagefolder: random-crop padding (default image size / 8)");
  command.add_flag("--flip,!--no-flip", s.horizontal_flip, "imagefolder: random horizontal flips in training")
      ->capture_default_str();
  command.add_option("--device", options.device, "cpu, cuda or auto")->check(CLI::IsMember({"cpu", "cuda", "auto"}))
      ->capture_default_str();
  command.add_option("--threads", options.threads, "CPU threads (0: all cores)")->check(CLI::NonNegativeNumber);
}

void add_data_parallel_options(CLI::App& command, DataParallelOptions& options) {
  command.add_option("--timeout", options.timeout_seconds,
                     "Data-parallel (under torchrun): seconds to wait for the other ranks, at start and in every "
                     "collective, before stopping with an error")
      ->check(CLI::PositiveNumber)->capture_default_str();
}

void start_data_parallel(const DataParallelOptions& options) {
  init_data_parallel(std::chrono::milliseconds(int64_t(options.timeout_seconds * 1000)));
}

void apply_threads(const CommonOptions& options) {
  if (options.threads > 0) torch::set_num_threads(options.threads);
}

std::string sidecar_path(const std::string& model_path) {
  return std::filesystem::path(model_path).replace_extension(".json").string();
}

namespace {
std::string g_invocation;
}

const std::string& invocation() { return g_invocation; }

void set_invocation(int argc, char** argv) {
  g_invocation = "dcomp";
  for (int i = 1; i < argc; ++i) g_invocation += std::string(" ") + argv[i];
}

}  // namespace dcomp::cli
