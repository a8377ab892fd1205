// The dcomp subcommands. Each add_*_command registers its options and a
// callback on the top-level app; errors are exceptions, printed by main().
#pragma once

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "libtorch/data.h"
#include "libtorch/json_file.h"  // read_json_file, used by most commands

namespace dcomp::cli {

// Options every command that touches data or a device takes.
struct CommonOptions {
  std::string data_dir;  // empty: $DCOMP_DATA, then the dataset's default
  DataSource source;     // --dataset and the image-folder options
  std::string device = "auto";
  int threads = 0;  // 0: LibTorch's default
};
void add_common_options(CLI::App& command, CommonOptions& options);
// Commands that train: under torchrun they join the other ranks
// (data_parallel.h), waiting --timeout seconds for them at start and in
// every collective.
struct DataParallelOptions {
  double timeout_seconds = 30;
};
void add_data_parallel_options(CLI::App& command, DataParallelOptions& options);
void start_data_parallel(const DataParallelOptions& options);  // nothing when not launched by torchrun
void apply_threads(const CommonOptions& options);

// The metadata file that sits beside a model file: x.pt -> x.json.
std::string sidecar_path(const std::string& model_path);

std::vector<std::string> model_names();

void add_train_command(CLI::App& app);
void add_finetune_command(CLI::App& app);
void add_prune_command(CLI::App& app);
void add_quantize_command(CLI::App& app);
void add_huffman_command(CLI::App& app);
void add_lab_commands(CLI::App& app);
void add_sensitivity_command(CLI::App& app);

// The command line dcomp was started with, for the records results keep.
const std::string& invocation();
void set_invocation(int argc, char** argv);
void add_eval_command(CLI::App& app);
void add_data_command(CLI::App& app);
void add_pack_commands(CLI::App& app);
void add_lab3_command(CLI::App& app);
void add_pipeline_command(CLI::App& app);
void add_report_command(CLI::App& app);
void add_frontier_command(CLI::App& app);
void add_submission_command(CLI::App& app);

}  // namespace dcomp::cli
