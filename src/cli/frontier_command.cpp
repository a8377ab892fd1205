// dcomp frontier RUN... --out DIR: the accuracy/size trade-off over several
// pipeline runs (each a directory holding summary.json): a table of every
// point, which of them are Pareto-optimal (no other point is both smaller
// and more accurate), and a plot of top-1 against the true file ratio, one
// line per pruned model and coder, with the accuracy bar (baseline minus 1
// point). Each run's file is re-encoded with the adaptive coder (in memory,
// exactly the same weights) for the figure beside Huffman's. With --data, a
// run whose summary predates the validation figures gets one measured from
// its file.
#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>

#include "cli/commands.h"
#include "core/atomic_file.h"
#include "core/compressed_file.h"
#include "libtorch/compressed_model.h"
#include "libtorch/data.h"
#include "libtorch/models.h"
#include "libtorch/pipeline.h"
#include "libtorch/train.h"
#include "report/svg_chart.h"

namespace dcomp::cli {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

struct FrontierOptions {
  std::vector<std::string> runs;
  std::string out_dir;
  double bar_points = 1.0;
  std::string data_dir;  // for validation top-1 the runs did not record
  std::string notes;     // Markdown put after the table: the analysis, written by hand
};

struct Point {
  std::string name;
  json summary;
  uint64_t adaptive_bytes = 0;  // the run's file under the adaptive coder
  double measured_validation_top1 = -1;  // by this command, where the run recorded none
  double top1() const { return summary["final_top1"]; }
  // Held-out accuracy; runs from before it was recorded have none (-1)
  // unless measured here.
  double validation_top1() const { return summary.value("final_validation_top1", measured_validation_top1); }
  double file_factor() const { return summary["compression_file"]; }
  double adaptive_factor() const {
    return file_factor() * summary["file_bytes"].get<double>() / double(adaptive_bytes);
  }
  double sparsity() const { return 1 - summary["nonzero"].get<double>() / summary["total"].get<double>(); }
  std::string bits() const {
    if (summary.contains("allocation")) {  // the plan's, per layer
      int least = 8, most = 1;
      for (const json& layer : summary["allocation"]["layers"])
        least = std::min(least, layer["bits"].get<int>()), most = std::max(most, layer["bits"].get<int>());
      return fmt::format("{} to {}, planned for {} B", least, most, summary["allocation"]["budget_bytes"].get<uint64_t>());
    }
    const json& sharing = summary["config"]["weight_sharing"];
    std::string s = fmt::format("conv {}, fc {}", sharing["conv_bits"].get<int>(), sharing["fc_bits"].get<int>());
    for (const json& layer : sharing["layer_bits"])
      s += fmt::format(", {} {}", layer[0].get<std::string>(), layer[1].get<int>());
    const std::string quantizer = sharing.value("quantizer", "kmeans");
    if (quantizer == "ecsq") s += fmt::format("; ecsq lambda {}", sharing["lambda"].get<double>());
    if (quantizer == "uniform") {
      const double step = sharing["step"];
      s += step > 0 ? fmt::format("; uniform step {}", step) : "; uniform";
    }
    return s;
  }
};

// Top-1 of the file's model on the validation split of `data_dir`.
double file_validation_top1(const dcz::Model& file, const std::string& data_dir, int64_t validation_size) {
  if (const std::string* architecture = file.find("model"); !architecture || *architecture == "torchscript")
    throw std::runtime_error("--data measures built-in models only");
  std::unique_ptr<Model> model = built_in_model(file);
  const DatasetInfo info = file_data(file);
  return evaluate(*model, load_splits(info, data_dir, validation_size).validation, info, torch::kCPU).top1;
}

Point read_point(const std::string& run, const std::string& data_dir) {
  const fs::path summary = fs::path(run) / "summary.json";
  if (!fs::exists(summary)) throw std::runtime_error(run + ": no summary.json (is this a finished pipeline run?)");
  fs::path name = fs::path(run).lexically_normal();
  if (name.filename().empty()) name = name.parent_path();  // "dir/" -> "dir"
  Point p{name.string(), read_json_file(summary.string())};
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
    p.measured_validation_top1 =
        file_validation_top1(model, data_dir, p.summary["config"].value(json::json_pointer("/trained_quantization/validation_size"), 5000));
  return p;
}

// A point is on the frontier when no other is at least as good on both axes
// and better on one.
bool dominated(const Point& p, const std::vector<Point>& all) {
  return std::any_of(all.begin(), all.end(), [&](const Point& q) {
    return q.top1() >= p.top1() && q.file_factor() >= p.file_factor() &&
           (q.top1() > p.top1() || q.file_factor() > p.file_factor());
  });
}

void run_frontier_command(const FrontierOptions& o) {
  std::vector<Point> points;
  for (const std::string& run : o.runs) points.push_back(read_point(run, o.data_dir));
  const double baseline = points.front().summary["baseline_top1"];
  for (const Point& p : points)
    if (p.summary["baseline_top1"].get<double>() != baseline)
      throw std::runtime_error(p.name + ": starts from another baseline than " + points.front().name);
  const double bar = baseline - o.bar_points / 100;
  // Summaries older than the validation figures have none: the baseline's is
  // taken from those that do, and must agree between them.
  double validation_baseline = -1;
  for (const Point& p : points) {
    const double v = p.summary.value("baseline_validation_top1", -1.0);
    if (v < 0) continue;
    if (validation_baseline >= 0 && v != validation_baseline)
      throw std::runtime_error(p.name + ": its baseline has another validation top-1 than the other runs'");
    validation_baseline = v;
  }
  const double validation_bar = validation_baseline - o.bar_points / 100;
  const std::string validation_text =
      validation_baseline < 0 ? std::string("not recorded")
                              : fmt::format("{:.2f}% and the bar is {:.2f}%", 100 * validation_baseline,
                                            100 * validation_bar);
  std::sort(points.begin(), points.end(),
            [](const Point& a, const Point& b) { return a.file_factor() < b.file_factor(); });

  std::string md = fmt::format(
      "# Accuracy against size\n\nGenerated by:\n\n```sh\n{}\n```\n\nBaseline top-1 {:.2f}%; the bar is {:.2f}% "
      "(baseline minus {} point); on the validation split (the last 5,000 training images, never trained on) "
      "the baseline has {}. A point is on the frontier when no other is both smaller "
      "and at least as accurate on test. Top-1 is of the model as its file holds it, on the whole test set and the "
      "whole validation split; a point holds the bar when it does on both. Runs older than the validation "
      "figures have theirs measured from their files by `dcomp frontier --data` (marked: from the file).\n\n"
      "File ratios and bytes are Huffman's (the file the run wrote) and the adaptive coder's (the same "
      "weights, re-encoded: `dcomp pack --coder adaptive`).\n\n"
      "| run | pruned | bits | test top-1 | loss (points) | validation top-1 | formula | file | file bytes | "
      "file, adaptive | bytes, adaptive | frontier | bar on test | bar on validation | bar on both |\n"
      "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
      invocation(), 100 * baseline, 100 * bar, o.bar_points, validation_text);
  std::map<std::pair<long, bool>, Series> lines;  // per pruned model (its nonzero count) and coder (adaptive?)
  for (const Point& p : points) {
    const bool has_validation = p.validation_top1() >= 0 && validation_baseline >= 0;
    const bool test_ok = p.top1() >= bar, validation_ok = has_validation && p.validation_top1() >= validation_bar;
    md += fmt::format("| {} | {:.1f}% | {} | {:.2f}% | {:.2f} | {} | {:.1f}x | {:.1f}x | {} | {:.1f}x | {} | {} | {} | "
                      "{} | {} |\n",
                      p.name, 100 * p.sparsity(), p.bits(), 100 * p.top1(), 100 * (baseline - p.top1()),
                      !has_validation ? "not recorded"
                      : fmt::format("{:.2f}%{}", 100 * p.validation_top1(),
                                    p.measured_validation_top1 >= 0 ? " (from the file)" : ""),
                      p.summary["compression_formula"].get<double>(), p.file_factor(),
                      p.summary["file_bytes"].get<uint64_t>(), p.adaptive_factor(), p.adaptive_bytes,
                      dominated(p, points) ? "" : "yes",
                      test_ok ? "yes" : "no", has_validation ? (validation_ok ? "yes" : "no") : "?",
                      test_ok && validation_ok ? "yes" : test_ok && !has_validation ? "?" : "no");
    for (bool adaptive : {false, true}) {
      Series& line = lines[{p.summary["nonzero"].get<long>(), adaptive}];
      line.label = fmt::format("{:.1f}% pruned, {}", 100 * p.sparsity(), adaptive ? "adaptive" : "Huffman");
      line.x.push_back(adaptive ? p.adaptive_factor() : p.file_factor());
      line.y.push_back(100 * p.top1());
    }
  }
  std::vector<Series> series;
  for (auto& [key, line] : lines) series.push_back(line);
  series.push_back({fmt::format("bar: baseline - {} point", o.bar_points),
                    {points.front().file_factor(), points.back().adaptive_factor()},
                    {100 * bar, 100 * bar}});
  md += "\n![top-1 against file ratio](frontier.svg)\n";
  if (!o.notes.empty()) {
    std::ifstream notes(o.notes);
    md += "\n" + std::string(std::istreambuf_iterator<char>(notes), std::istreambuf_iterator<char>());
    if (notes.bad()) throw std::runtime_error(o.notes + ": cannot read");
  }

  const fs::path out(o.out_dir);
  write_file_atomic((out / "frontier.svg").string(),
                    line_chart({points.front().summary["model"].get<std::string>() + ": accuracy against size",
                                "compression by file size (x)", "test top-1 (%)"},
                               series));
  write_file_atomic((out / "README.md").string(), md);
  fmt::print("{}", md);
}

}  // namespace

void add_frontier_command(CLI::App& app) {
  auto o = std::make_shared<FrontierOptions>();
  CLI::App* cmd = app.add_subcommand("frontier", "Top-1 against file ratio over several pipeline runs");
  cmd->add_option("runs", o->runs, "Pipeline run or results directories (each with summary.json)")->required();
  cmd->add_option("--out", o->out_dir, "Where README.md and frontier.svg go")->required();
  cmd->add_option("--bar", o->bar_points, "Accuracy bar: points below the baseline")->capture_default_str();
  cmd->add_option("--notes", o->notes, "Markdown file to append after the table (the analysis)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--data", o->data_dir, "Dataset directory: measure validation top-1 from the files of runs "
                                         "that did not record it")->check(CLI::ExistingDirectory);
  cmd->callback([o] { run_frontier_command(*o); });
}

}  // namespace dcomp::cli
