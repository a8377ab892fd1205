// dcomp lab3: weight sharing on a pruned model (the homework's Lab 3).
//  - test top-1 against bits (all layers at b bits, b = 8..2), with k-means
//    alone and after trained quantization (a short tied-weights fine-tune);
//  - the four k-means initializations at 3, 4 and 5 bits;
//  - at --artifact-bits: weight histograms before and after quantization,
//    Huffman bits per layer, the compressed file and its figures, and the
//    seed's six artifacts with lab4_submission.zip.
// Each finished bit width is kept in OUT/settings/, so a killed run redoes
// only the unfinished one (whose fine-tune resumes from its checkpoint).
#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <memory>

#include "cli/commands.h"
#include "core/atomic_file.h"
#include "libtorch/compressed_model.h"
#include "libtorch/prune.h"
#include "libtorch/runtime_info.h"
#include "libtorch/seed_artifacts.h"
#include "report/svg_chart.h"

namespace dcomp::cli {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

struct Lab3Options {
  CommonOptions common;
  std::string model = "resnet20", weights, baseline, out_dir = "results/lab3", runs_dir = "runs";
  std::vector<int> bits = {8, 7, 6, 5, 4, 3, 2};
  std::vector<int> init_bits = {3, 4, 5};
  int artifact_bits = 5;
  TrainConfig tq;  // trained quantization
};

// A context shared by every setting: the data and the pruned weights.
struct Lab3 {
  const Lab3Options& o;
  const DatasetInfo& info;
  torch::Device device;
  DataSplits data;
  StateDict pruned;

  std::shared_ptr<Classifier> pruned_model() const {
    auto model = make_model(o.model);
    load_state_dict(*model, pruned);
    return model;
  }
  double test_top1(Classifier& model) const {
    model.to(device);
    return evaluate(model, data.test, info, device).top1;
  }
};

ShareSpec uniform_spec(int bits, KMeansInit init) {
  ShareSpec spec;
  spec.conv_bits = spec.fc_bits = bits;
  spec.init = init;
  return spec;
}

std::vector<double> nonzero_values(const torch::Tensor& weight) {
  const torch::Tensor w = weight.detach().flatten().to(torch::kCPU, torch::kFloat64);
  const torch::Tensor nz = w.masked_select(w.ne(0)).contiguous();
  return std::vector<double>(nz.data_ptr<double>(), nz.data_ptr<double>() + nz.numel());
}

void write_histograms(const Lab3& lab, Classifier& quantized, const std::vector<SharedLayer>& layers, int bits) {
  auto pruned = lab.pruned_model();
  const std::vector<LayerWeight> before = prunable_weights(*pruned), after = prunable_weights(quantized);
  for (size_t i = 0; i < before.size(); ++i) {
    const std::vector<double> marks(layers[i].codebook.begin(), layers[i].codebook.end());
    write_file_atomic((fs::path(lab.o.out_dir) / "histograms" / (before[i].name + ".svg")).string(),
                      histogram_panels({fmt::format("{}: nonzero weights, {}-bit sharing (centroids dashed)",
                                                    before[i].name, bits),
                                        "weight value", "count"},
                                       {{"after pruning", nonzero_values(before[i].weight)},
                                        {"after trained quantization", nonzero_values(after[i].weight)}},
                                       marks, 120));
  }
}

// Everything the homework asks at one bit width, written beside the tables.
json write_artifact_outputs(const Lab3& lab, Classifier& quantized, const std::vector<SharedLayer>& layers, int bits) {
  write_histograms(lab, quantized, layers, bits);
  const fs::path dir = fs::path(lab.o.out_dir) / "artifacts";
  write_seed_artifacts(dir.string(), lab.o.model, load_state_dict_file(lab.o.baseline), lab.pruned, quantized);
  const FileReport file = pack(quantized, lab.o.model, (dir / (lab.o.model + ".dcz")).string());
  fmt::print("{}", format_table(file));
  return to_json(file);
}

// k-means at `bits`, then trained quantization; the row of the bits table.
json run_bits(const Lab3& lab, int bits) {
  auto model = lab.pruned_model();
  const std::vector<SharedLayer> layers = share_weights(*model, uniform_spec(bits, KMeansInit::kLinear));
  const double shared_top1 = lab.test_top1(*model);
  const CodingReport coding = huffman_report(layers);

  TiedWeights tied(*model, layers);
  TrainConfig config = lab.o.tq;
  config.model = lab.o.model;
  RunControl run{(fs::path(lab.o.runs_dir) / "lab3" / fmt::format("tq_{}bit", bits)).string(), false, 0};
  run.resume = fs::exists(fs::path(run.run_dir) / "checkpoint.pt");
  train(*model, config, lab.data, lab.info, lab.device, run, tied.training_hooks());
  const double tq_top1 = lab.test_top1(*model);
  fmt::print("{} bits: top-1 {:.2f}% k-means, {:.2f}% trained; {:.2f} Huffman bits per weight, {:.1f}x\n", bits,
             100 * shared_top1, 100 * tq_top1, coding.average_bits, coding.formula_factor);
  json row = {{"bits", bits},
              {"test_top1_kmeans", shared_top1},
              {"test_top1_trained", tq_top1},
              {"huffman", to_json(coding)}};
  if (bits == lab.o.artifact_bits) row["compressed_file"] = write_artifact_outputs(lab, *model, tied.layers(), bits);
  return row;
}

json run_inits(const Lab3& lab) {
  json rows = json::array();
  for (int bits : lab.o.init_bits)
    for (const char* name : {"linear", "random", "density", "kmeans++"}) {
      auto model = lab.pruned_model();
      share_weights(*model, uniform_spec(bits, parse_kmeans_init(name)));
      rows.push_back({{"bits", bits}, {"init", name}, {"test_top1", lab.test_top1(*model)}});
      fmt::print("{} bits, {} init: top-1 {:.2f}%\n", bits, name, 100 * rows.back()["test_top1"].get<double>());
    }
  return rows;
}

std::string markdown(const Lab3Options& o, double pruned_top1, const json& rows, const json& inits) {
  std::string md = "# Lab 3: weight sharing and Huffman coding\n\nGenerated by:\n\n```sh\n" + invocation() + "\n```\n\n";
  md += fmt::format(
      "Pruned model `{}`: test top-1 {:.2f}% (all 10,000 test images). Every conv and fc layer shares {} values "
      "(k-means over its nonzero weights, linear initialization); trained quantization fine-tunes the shared values "
      "for {} epoch(s) at lr {} (tied weights: each centroid moves by the sum of its members' gradients).\n\n",
      o.weights, 100 * pruned_top1, "2^bits", o.tq.epochs, o.tq.schedule.base_lr);
  md += "| bits | top-1, k-means | top-1, trained quantization | Huffman bits per nonzero | compression (seed's formula) |\n"
        "|---|---|---|---|---|\n";
  for (const json& r : rows)
    md += fmt::format("| {} | {:.2f}% | {:.2f}% | {:.3f} | {:.1f}x |\n", r["bits"].get<int>(),
                      100 * r["test_top1_kmeans"].get<double>(), 100 * r["test_top1_trained"].get<double>(),
                      r["huffman"]["average_huffman_bits"].get<double>(), r["huffman"]["compression_formula"].get<double>());
  md += "\nPlot: `top1_vs_bits.svg`.\n\n## Initializations (k-means only, no fine-tuning)\n\n| bits |";
  for (const char* name : {"linear", "random", "density", "kmeans++"}) md += std::string(" ") + name + " |";
  md += "\n|---|---|---|---|---|\n";
  for (size_t i = 0; i + 3 < inits.size(); i += 4) {
    md += fmt::format("| {} |", inits[i]["bits"].get<int>());
    for (size_t k = 0; k < 4; ++k) md += fmt::format(" {:.2f}% |", 100 * inits[i + k]["test_top1"].get<double>());
    md += "\n";
  }
  md += "\nPlot: `inits_top1.svg`.\n";
  for (const json& r : rows) {
    if (!r.contains("compressed_file")) continue;
    md += fmt::format("\n## Huffman coding at {} bits, per layer\n\n| layer | nonzeros | Huffman bits per nonzero | entropy |\n|---|---|---|---|\n",
                      r["bits"].get<int>());
    for (const json& l : r["huffman"]["layers"])
      md += fmt::format("| {} | {} | {:.3f} | {:.3f} |\n", l["name"].get<std::string>(), l["nonzeros"].get<int64_t>(),
                        l["average_huffman_bits"].get<double>(), l["entropy_bits"].get<double>());
    const json& f = r["compressed_file"];
    const json& b = f["breakdown_bytes"];
    md += fmt::format(
        "| all | {} | {:.3f} | |\n\nThe compressed file `artifacts/{}.dcz`: {} bytes, {:.1f}x smaller than the {} bytes "
        "of float32 parameters ({:.1f}x by the seed's formula). Positions {} B, indices {} B, codebooks {} B, dense "
        "tensors (BN, biases) {} B, tables {} B, header {} B. The two streams take {} B against an entropy bound of "
        "{:.0f} B. Weight histograms before and after quantization: `histograms/`. The seed's artifacts and "
        "`lab4_submission.zip`: `artifacts/`.\n",
        r["huffman"]["nonzeros"].get<int64_t>(), r["huffman"]["average_huffman_bits"].get<double>(), o.model,
        f["file_bytes"].get<uint64_t>(), f["compression_file"].get<double>(), f["dense_bytes"].get<uint64_t>(),
        f["compression_formula"].get<double>(), b["positions"].get<uint64_t>(), b["indices"].get<uint64_t>(),
        b["codebooks"].get<uint64_t>(), b["dense_tensors"].get<uint64_t>(), b["tables"].get<uint64_t>(),
        b["header"].get<uint64_t>(), f["stream_bytes"].get<uint64_t>(), f["stream_entropy_bytes"].get<double>());
  }
  return md;
}

void write_plots(const std::string& dir, const json& rows, const json& inits) {
  Series kmeans{"k-means", {}, {}}, trained{"trained quantization", {}, {}};
  for (const json& r : rows) {
    kmeans.x.push_back(r["bits"].get<int>());
    kmeans.y.push_back(100 * r["test_top1_kmeans"].get<double>());
    trained.x.push_back(r["bits"].get<int>());
    trained.y.push_back(100 * r["test_top1_trained"].get<double>());
  }
  write_file_atomic((fs::path(dir) / "top1_vs_bits.svg").string(),
                    line_chart({"Test top-1 against bits per weight", "bits", "top-1 (%)"}, {kmeans, trained}));
  std::vector<std::string> groups;
  std::vector<Series> series;
  for (const char* name : {"linear", "random", "density", "kmeans++"}) series.push_back({name, {}, {}});
  for (size_t i = 0; i < inits.size(); ++i) {
    if (i % 4 == 0) groups.push_back(fmt::format("{} bits", inits[i]["bits"].get<int>()));
    series[i % 4].y.push_back(100 * inits[i]["test_top1"].get<double>());
  }
  write_file_atomic((fs::path(dir) / "inits_top1.svg").string(),
                    bar_chart({"k-means initializations", "", "test top-1 (%)"}, groups, series));
}

void run_lab3(const Lab3Options& o) {
  apply_threads(o.common);
  const DatasetInfo& info = dataset_info(model_spec(o.model).dataset);
  Lab3 lab{o, info, resolve_device(o.common.device),
           load_splits(info, resolve_data_dir(info, o.common.data_dir), o.tq.validation_size),
           load_state_dict_file(o.weights)};
  const double pruned_top1 = lab.test_top1(*lab.pruned_model());
  const fs::path settings = fs::path(o.out_dir) / "settings";
  json rows = json::array();
  for (int bits : o.bits) {
    const fs::path done = settings / fmt::format("bits_{}.json", bits);
    json row = fs::exists(done) ? read_json_file(done.string()) : run_bits(lab, bits);
    write_file_atomic(done.string(), row.dump(2) + "\n");
    rows.push_back(row);
  }
  const fs::path inits_done = settings / "inits.json";
  const json inits = fs::exists(inits_done) ? read_json_file(inits_done.string()) : run_inits(lab);
  write_file_atomic(inits_done.string(), inits.dump(2) + "\n");

  const json results = {{"pruned_weights", o.weights},
                         {"pruned_test_top1", pruned_top1},
                         {"trained_quantization", to_json(o.tq)},
                         {"bits", rows},
                         {"initializations", inits},
                         {"command", invocation()},
                         {"git_commit", git_commit()},
                         {"created", utc_timestamp()}};
  write_file_atomic((fs::path(o.out_dir) / "results.json").string(), results.dump(2) + "\n");
  write_file_atomic((fs::path(o.out_dir) / "README.md").string(), markdown(o, pruned_top1, rows, inits));
  write_plots(o.out_dir, rows, inits);
  fmt::print("results in {}\n", o.out_dir);
}

}  // namespace

void add_lab3_command(CLI::App& app) {
  auto o = std::make_shared<Lab3Options>();
  o->tq.epochs = 1;
  o->tq.schedule.base_lr = 1e-4;
  o->tq.weight_decay = 0;
  CLI::App* cmd = app.add_subcommand("lab3", "Lab 3: weight sharing against bits, initializations, Huffman coding, "
                                             "the compressed file and the seed's artifacts");
  add_common_options(*cmd, o->common);
  cmd->add_option("--weights", o->weights, "Pruned (and retrained) state_dict")->required();
  cmd->add_option("--baseline", o->baseline, "The unpruned state_dict it came from (net_before_pruning.pt)")->required();
  cmd->add_option("--model", o->model, "Architecture")->check(CLI::IsMember(model_names()))->capture_default_str();
  cmd->add_option("--out", o->out_dir, "Results directory")->capture_default_str();
  cmd->add_option("--bits", o->bits, "Bit widths to sweep")->delimiter(',')->check(CLI::Range(1, 8));
  cmd->add_option("--init-bits", o->init_bits, "Bit widths for the initialization comparison")->delimiter(',')
      ->check(CLI::Range(1, 8));
  cmd->add_option("--artifact-bits", o->artifact_bits, "Bit width for histograms, Huffman table, file and artifacts")
      ->check(CLI::Range(1, 8))->capture_default_str();
  cmd->add_option("--tq-epochs", o->tq.epochs, "Trained-quantization epochs per bit width")->capture_default_str();
  cmd->add_option("--tq-lr", o->tq.schedule.base_lr, "Trained-quantization learning rate (cosine)")->capture_default_str();
  cmd->add_option("--runs-dir", o->runs_dir, "Where the fine-tunes keep checkpoints")->capture_default_str();
  cmd->callback([o] {
    if (std::find(o->bits.begin(), o->bits.end(), o->artifact_bits) == o->bits.end())
      throw std::invalid_argument("--artifact-bits must be one of --bits");
    run_lab3(*o);
  });
}

}  // namespace dcomp::cli
