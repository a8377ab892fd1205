#include "cli/frontier_point.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <memory>

#include "core/compressed_file.h"
#include "libtorch/compressed_model.h"
#include "libtorch/json_file.h"
#include "libtorch/pipeline.h"
#include "libtorch/train.h"

namespace dcomp::cli {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

// Top-1 of the file's model on the validation split of `data_dir`.
double file_validation_top1(const dcz::Model& file, const std::string& data_dir, int64_t validation_size) {
  if (const std::string* architecture = file.find("model"); !architecture || *architecture == "torchscript")
    throw std::runtime_error("--data measures built-in models only");
  std::unique_ptr<Model> model = built_in_model(file);
  const DatasetInfo info = file_data(file);
  return evaluate(*model, load_splits(info, data_dir, validation_size).validation, info, torch::kCPU).top1;
}

}  // namespace

double FrontierPoint::adaptive_factor() const {
  return file_factor() * summary["file_bytes"].get<double>() / double(adaptive_bytes);
}

double FrontierPoint::sparsity() const {
  return 1 - summary["nonzero"].get<double>() / summary["total"].get<double>();
}

std::string FrontierPoint::bits() const {
  if (summary.contains("allocation")) {  // the plan's, per layer
    int least = 8, most = 1;
    for (const json& layer : summary["allocation"]["layers"])
      least = std::min(least, layer["bits"].get<int>()), most = std::max(most, layer["bits"].get<int>());
    return fmt::format("{} to {}, planned for {} B", least, most, summary["allocation"]["budget_bytes"].get<uint64_t>());
  }
  const json& sharing = summary["config"]["weight_sharing"];
  std::string s = fmt::format("conv {}, fc {}", sharing["conv_bits"].get<int>(), sharing["fc_bits"].get<int>());
  for (const json& layer : sharing["layer_bits"]) s += fmt::format(", {} {}", layer[0].get<std::string>(), layer[1].get<int>());
  const std::string quantizer = sharing.value("quantizer", "kmeans");
  if (quantizer == "ecsq") s += fmt::format("; ecsq lambda {}", sharing["lambda"].get<double>());
  if (quantizer == "uniform") {
    const double step = sharing["step"];
    s += step > 0 ? fmt::format("; uniform step {}", step) : "; uniform";
  }
  if (sharing.value("hessian_images", 0) > 0) s += "; Hessian-weighted";
  return s;
}

FrontierPoint read_frontier_point(const std::string& run, const std::string& data_dir) {
  const fs::path summary = fs::path(run) / "summary.json";
  if (!fs::exists(summary)) throw std::runtime_error(run + ": no summary.json (is this a finished pipeline run?)");
  fs::path name = fs::path(run).lexically_normal();
  if (name.filename().empty()) name = name.parent_path();  // "dir/" -> "dir"
  FrontierPoint p{name.string(), read_json_file(summary.string())};
  // A results directory holds the file; a run directory, its pack stage.
  const std::string file_name = p.summary["model"].get<std::string>() + ".dcz";
  fs::path file = fs::path(run) / file_name;
  if (!fs::exists(file)) file = fs::path(stage_directory(run, "pack")) / file_name;
  dcz::Model model = dcz::read(file.string());
  if (fs::file_size(file) != p.summary["file_bytes"].get<uint64_t>())
    throw std::runtime_error(file.string() + ": not the file its summary.json describes");
  for (dcz::Tensor& t : model.tensors) t.coder = dcz::Coder::kAdaptive;
  p.adaptive_bytes = dcz::encode(model).size();
  if (!data_dir.empty() && !p.summary.contains("final_validation_top1"))
    p.measured_validation_top1 = file_validation_top1(
        model, data_dir, p.summary["config"].value(json::json_pointer("/trained_quantization/validation_size"), 5000));
  return p;
}

bool holds_bar(double top1, double baseline_top1, double bar_points) {
  return baseline_top1 - top1 <= bar_points / 100 + 1e-9;
}

}  // namespace dcomp::cli
