// dcomp pipeline: the whole of Deep Compression from one config file (see
// libtorch/pipeline.h); --results copies what is committed (summary, the
// compressed file, the seed's artifacts) to a results directory.
#include <fmt/format.h>

#include <filesystem>
#include <memory>

#include "cli/commands.h"
#include "cli/model_io.h"
#include "libtorch/data_parallel.h"
#include "libtorch/pipeline.h"
#include "libtorch/runtime_info.h"

namespace dcomp::cli {
namespace {

namespace fs = std::filesystem;

struct PipelineOptions {
  CommonOptions common;
  std::string config_file, run_dir, from, results;
  DataParallelOptions data_parallel;
};

void copy_results(const fs::path& run_dir, const std::string& model, const fs::path& results) {
  fs::create_directories(results);
  const auto copy = [&](const fs::path& from) {
    fs::copy_file(from, results / from.filename(), fs::copy_options::overwrite_existing);
  };
  copy(run_dir / "summary.json");
  copy(run_dir / "config.json");
  copy(run_dir / "5_pack" / (model + ".dcz"));
  for (const auto& entry : fs::directory_iterator(run_dir / "6_artifacts"))
    if (entry.is_regular_file() && entry.path().filename() != "stage.json") copy(entry.path());
}

void run_pipeline_command(const PipelineOptions& o) {
  apply_threads(o.common);
  start_data_parallel(o.data_parallel);
  const PipelineConfig config = pipeline_config_from_json(read_json_file(o.config_file));
  const std::string run_dir =
      o.run_dir.empty() ? (fs::path("runs") / fs::path(o.config_file).stem()).string() : o.run_dir;
  // The config's data, else --dataset, else what the model records.
  CommonOptions common = o.common;
  if (!config.data.dataset.empty()) common.source = config.data;
  const DatasetInfo info = model_data(*open_model(config.model), common);
  const DataSplits data = load_data(info, common, config.retraining.validation_size);
  const nlohmann::json s =
      run_pipeline(config, {run_dir, o.from, invocation()}, data, info, resolve_device(o.common.device));
  if (!is_rank0()) return;  // rank 0 writes and reports
  fmt::print("{}: top-1 {:.2f}% -> {:.2f}%, {:.1f}x by the seed's formula, {:.1f}x by file size ({} bytes)\n",
             run_dir, 100 * s["baseline_top1"].get<double>(), 100 * s["final_top1"].get<double>(),
             s["compression_formula"].get<double>(), s["compression_file"].get<double>(),
             s["file_bytes"].get<uint64_t>());
  if (!o.results.empty()) {
    copy_results(run_dir, model_name(config), o.results);
    fmt::print("results in {}\n", o.results);
  }
}

}  // namespace

void add_pipeline_command(CLI::App& app) {
  auto o = std::make_shared<PipelineOptions>();
  CLI::App* cmd = app.add_subcommand(
      "pipeline", "Deep Compression end to end: prune, retrain, share weights, train them, Huffman-code, pack");
  add_common_options(*cmd, o->common);
  cmd->add_option("--config", o->config_file, "Pipeline config (JSON, see configs/)")->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--run-dir", o->run_dir, "Where the stages keep their outputs (default: runs/<config name>)");
  cmd->add_option("--from", o->from, "Redo this stage and those after it")
      ->check(CLI::IsMember(pipeline_stages()));
  cmd->add_option("--results", o->results, "Copy summary, compressed file and artifacts here");
  add_data_parallel_options(*cmd, o->data_parallel);
  cmd->callback([o] { run_pipeline_command(*o); });
}

}  // namespace dcomp::cli
