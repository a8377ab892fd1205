// dcomp report RUN_DIR: one self-contained HTML page (plots inline) and a
// Markdown twin (plots as files beside it) for a pipeline run: top-1 after
// each stage, per-layer sparsity, bits and Huffman lengths, weight
// histograms before and after quantization, and where the file's bytes go.
#include <fmt/format.h>

#include <filesystem>
#include <memory>

#include "cli/commands.h"
#include "core/atomic_file.h"
#include "libtorch/model_file.h"
#include "libtorch/pipeline.h"
#include "libtorch/state_dict.h"
#include "libtorch/weight_plots.h"
#include "report/document.h"
#include "report/svg_chart.h"

namespace dcomp::cli {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

std::string pct(double v) { return fmt::format("{:.2f}%", 100 * v); }

Document build_report(const fs::path& run) {
  if (!fs::exists(run / "summary.json"))
    throw std::runtime_error(run.string() + ": no summary.json (is this a finished pipeline run?)");
  const json summary = read_json_file((run / "summary.json").string());
  const auto& stages = pipeline_stages();
  std::vector<json> records;
  for (size_t i = 0; i < stages.size(); ++i)
    records.push_back(read_json_file((run / fmt::format("{}_{}", i + 1, stages[i]) / "stage.json").string()));
  const json& file = records[4]["file"];
  const json& coding = records[4]["coding"];
  const std::string model = summary["model"];

  Document r;
  r.title = "Deep Compression of " + model;
  r.blocks.push_back({"", fmt::format("Run `{}`, made by:\n\n```\n{}\n```\n\nat commit `{}`, {}.", run.string(),
                                      summary["command"].get<std::string>(), summary["git_commit"].get<std::string>(),
                                      summary["created"].get<std::string>()),
                      {}, "", ""});
  r.blocks.push_back(
      {"Result",
       fmt::format("Test top-1 {} -> {} ({:+.2f} points) on all 10,000 test images. Compression {:.1f}x by the seed's "
                   "formula, {:.1f}x by the size of the compressed file ({} bytes against {} bytes of float32 "
                   "parameters).",
                   pct(summary["baseline_top1"]), pct(summary["final_top1"]), -summary["top1_loss_points"].get<double>(),
                   summary["compression_formula"].get<double>(), summary["compression_file"].get<double>(),
                   file["file_bytes"].get<uint64_t>(), file["dense_bytes"].get<uint64_t>()),
       {}, "", ""});

  Table stage_table{{"stage", "test top-1", "validation top-1", "wall time"}, {}};
  Series test{"test", {}, {}}, validation{"validation", {}, {}};
  std::vector<std::string> stage_names;
  for (size_t i = 0; i < stages.size(); ++i) {
    const json& rec = records[i];
    const bool measured = rec.contains("test_top1");
    stage_table.rows.push_back({stages[i], measured ? pct(rec["test_top1"]) : "", measured ? pct(rec["validation_top1"]) : "",
                                fmt::format("{:.0f} s", rec["wall_seconds"].get<double>())});
    if (!measured) continue;
    stage_names.push_back(stages[i] == "pack" ? "file" : stages[i]);
    test.y.push_back(100 * rec["test_top1"].get<double>());
    validation.y.push_back(100 * rec["validation_top1"].get<double>());
  }
  r.blocks.push_back({"Top-1 after each stage", "The pack stage measures the model as the compressed file holds it.",
                      stage_table, "top1_by_stage",
                      bar_chart({"Top-1 after each stage", "", "top-1 (%)"}, stage_names, {test, validation})});

  Table layers{{"layer", "weights", "nonzeros", "sparsity", "bits", "index bits / nonzero", "position bits / nonzero",
                "bytes"},
               {}};
  std::vector<std::string> names;
  Series sparsity{"sparsity (%)", {}, {}}, index_bits{"index", {}, {}}, position_bits{"position", {}, {}};
  size_t t = 0;
  for (const json& layer : coding["layers"]) {
    while (file["tensors"][t]["name"] != layer["name"]) ++t;  // the file lists every tensor
    const json& stored = file["tensors"][t];
    const double nz = std::max<double>(1, layer["nonzeros"].get<double>());
    const double ib = stored["index_bits"].get<double>() / nz, pb = stored["position_bits"].get<double>() / nz;
    const double weights = layer["weights"].get<double>();
    names.push_back(layer["name"]);
    sparsity.y.push_back(100 * (1 - layer["nonzeros"].get<double>() / weights));
    index_bits.y.push_back(ib);
    position_bits.y.push_back(pb);
    layers.rows.push_back({layer["name"], fmt::format("{}", layer["weights"].get<int64_t>()),
                           fmt::format("{}", layer["nonzeros"].get<int64_t>()), pct(sparsity.y.back() / 100),
                           fmt::format("{}", layer["bits"].get<int>()), fmt::format("{:.2f}", ib), fmt::format("{:.2f}", pb),
                           fmt::format("{}", (stored["index_bits"].get<uint64_t>() + stored["position_bits"].get<uint64_t>() + 7) / 8)});
  }
  layers.rows.push_back({"all", fmt::format("{}", summary["total"].get<int64_t>()),
                         fmt::format("{}", summary["nonzero"].get<int64_t>()),
                         pct(1 - summary["nonzero"].get<double>() / summary["total"].get<double>()), "",
                         fmt::format("{:.2f}", summary["average_huffman_bits"].get<double>()),
                         fmt::format("{:.2f}", 8 * file["breakdown_bytes"]["positions"].get<double>() /
                                                   summary["nonzero"].get<double>()),
                         fmt::format("{}", file["stream_bytes"].get<uint64_t>())});
  r.blocks.push_back({"Per layer",
                      "Sparsity after pruning and retraining; bits of the codebook index; Huffman-coded bits per "
                      "nonzero weight for its codebook index and for its position (gap coding, docs/format.md).",
                      layers, "sparsity_per_layer",
                      bar_chart({"Sparsity per layer", "", "sparsity (%)"}, names, {sparsity})});
  r.blocks.push_back({"", "", {}, "bits_per_layer",
                      bar_chart({"Huffman-coded bits per nonzero weight", "", "bits"}, names, {index_bits, position_bits})});

  const json& b = file["breakdown_bytes"];
  Table bytes{{"part", "bytes", "share"}, {}};
  Series parts{"bytes", {}, {}};
  std::vector<std::string> part_names;
  for (const char* part : {"positions", "indices", "codebooks", "dense_tensors", "tables", "graph", "header"}) {
    const double v = b.value(part, 0.0);  // format-1 files had no graph
    bytes.rows.push_back({part, fmt::format("{:.0f}", v), pct(v / file["file_bytes"].get<double>())});
    part_names.push_back(part);
    parts.y.push_back(v);
  }
  bytes.rows.push_back({"file", fmt::format("{}", file["file_bytes"].get<uint64_t>()), "100.00%"});
  r.blocks.push_back(
      {"The compressed file",
       fmt::format("`{}.dcz` holds everything needed to run the model: the network as a graph of operations, the "
                   "shared weights as Huffman-coded indices and positions with their codebooks, and BN parameters, statistics and biases ({}). The two coded "
                   "streams take {} bytes against an entropy bound of {:.0f} bytes.",
                   model,
                   std::string(summary["config"]["dense_float16"].get<bool>() ? "float16" : "float32") +
                       (summary["config"].value("fold_batchnorm", false) ? "; BatchNorm folded for inference" : ""),
                   file["stream_bytes"].get<uint64_t>(), file["stream_entropy_bytes"].get<double>()),
       bytes, "file_breakdown", bar_chart({"Where the file's bytes go", "", "bytes"}, part_names, {parts})});

  // The stages' models are the config's kind: built-in state_dicts or TorchScript.
  const std::string architecture = summary["config"]["model"];
  auto pruned = load_model((run / "2_prune" / "model.pt").string(), architecture);
  auto quantized = load_model((run / "4_trained_quantization" / "model.pt").string(), architecture);
  r.blocks.push_back({"Weights before and after quantization", "Nonzero weights of each layer after pruning and "
                      "retraining, and after weight sharing and trained quantization; dashed lines mark the shared values.",
                      {}, "", ""});
  for (const LayerPlot& plot : weight_histograms(*pruned, *quantized, "after trained quantization"))
    r.blocks.push_back({"", "", {}, "histogram_" + plot.layer, plot.svg});
  return r;
}

void run_report(const std::string& run_dir, const std::string& out_dir) {
  const Document report = build_report(run_dir);
  const fs::path out(out_dir.empty() ? run_dir : out_dir);
  for (const Block& b : report.blocks)
    if (!b.svg.empty()) write_file_atomic((out / "report_files" / (b.plot_name + ".svg")).string(), b.svg);
  write_file_atomic((out / "report.md").string(), report.markdown("report_files"));
  write_file_atomic((out / "report.html").string(), report.html());
  fmt::print("wrote {} and {}\n", (out / "report.html").string(), (out / "report.md").string());
}

}  // namespace

void add_report_command(CLI::App& app) {
  auto dirs = std::make_shared<std::pair<std::string, std::string>>();
  CLI::App* cmd = app.add_subcommand("report", "HTML and Markdown report of a pipeline run");
  cmd->add_option("run_dir", dirs->first, "The pipeline's run directory")->required()->check(CLI::ExistingDirectory);
  cmd->add_option("--out", dirs->second, "Where to write report.html, report.md and report_files/ (default: the run)");
  cmd->callback([dirs] { run_report(dirs->first, dirs->second); });
}

}  // namespace dcomp::cli
