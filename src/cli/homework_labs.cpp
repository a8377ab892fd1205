// Labs 1-4 of the homework from the committed results: their tables and
// plots, and observations computed from the figures they cite.
#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>

#include "cli/frontier_point.h"
#include "cli/homework_sections.h"
#include "libtorch/json_file.h"
#include "libtorch/pipeline.h"

namespace dcomp::cli::homework {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

std::string file_text(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

bool missing(const fs::path& dir, const std::string& lab, const std::string& command, std::vector<Block>& out) {
  if (fs::exists(dir / "results.json")) return false;
  out.push_back(text(lab, "Not in these results: `" + (dir / "results.json").string() + "` is missing. `" + command +
                              "` makes it."));
  return true;
}

// Top-1 of the `q` points at `sparsity`, linearly between the two around it.
double interpolate(const std::vector<std::pair<double, double>>& curve, double sparsity) {
  for (size_t i = 1; i < curve.size(); ++i)
    if (curve[i].first >= sparsity) {
      const auto [x0, y0] = curve[i - 1];
      const auto [x1, y1] = curve[i];
      return y0 + (y1 - y0) * (sparsity - x0) / (x1 - x0);
    }
  return curve.back().second;
}


// Lab 2 (a): the retraining loop as a diagram.
std::string retraining_diagram() {
  const std::vector<std::string> steps = {"train dense", "prune: mask M", "forward, loss", "backward",
                                          "grad x M", "SGD step", "W x M"};
  std::string svg =
      "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 900 170\" font-family=\"sans-serif\" "
      "font-size=\"13\"><defs><marker id=\"a\" markerWidth=\"8\" markerHeight=\"8\" refX=\"7\" refY=\"4\" "
      "orient=\"auto\"><path d=\"M0,0 L8,4 L0,8 z\" fill=\"#444\"/></marker></defs>";
  for (size_t i = 0; i < steps.size(); ++i) {
    const int x = 10 + int(i) * 127;
    const bool loop = i >= 2;
    svg += fmt::format("<rect x=\"{}\" y=\"40\" width=\"112\" height=\"46\" rx=\"6\" fill=\"{}\" stroke=\"#444\"/>"
                       "<text x=\"{}\" y=\"67\" text-anchor=\"middle\">{}</text>",
                       x, loop ? (i >= 4 ? "#fde2c8" : "#dbe9f6") : "#eeeeee", x + 56, html_escape(steps[i]));
    if (i + 1 < steps.size())
      svg += fmt::format("<line x1=\"{}\" y1=\"63\" x2=\"{}\" y2=\"63\" stroke=\"#444\" marker-end=\"url(#a)\"/>",
                         x + 112, x + 126);
  }
  svg += "<path d=\"M 830 86 L 830 125 L 320 125 L 320 88\" fill=\"none\" stroke=\"#444\" marker-end=\"url(#a)\"/>"
         "<text x=\"575\" y=\"145\" text-anchor=\"middle\">next batch (the masked steps, orange, are what "
         "retraining adds)</text>"
         "<text x=\"10\" y=\"22\">Masked retraining: M = (|W| > t), the kept weights, fixed after pruning</text>"
         "</svg>";
  return svg;
}

}  // namespace

void lab_1(const fs::path& results, std::vector<Block>& out) {
  const fs::path dir = results / "lab1";
  if (missing(dir, "Lab 1: pruning", "dcomp lab1", out)) return;
  const json r = read_json_file((dir / "results.json").string());
  Table t{{"setting", "top-1 after pruning", "sparsity (conv and fc)"}, {}};
  std::vector<std::pair<double, double>> q_curve;
  std::vector<std::pair<std::string, std::pair<double, double>>> s_points;
  for (const json& s : r["settings"]) {
    const bool std_method = s["method"] == "std";
    const double sp = s["sparsity"]["prunable_sparsity"];
    t.rows.push_back({fmt::format("{} = {}", std_method ? "s" : "q", s["amount"].get<double>()),
                      pct(s["test_top1_after_pruning"]), pct(sp)});
    if (std_method)
      s_points.push_back({fmt::format("s = {}", s["amount"].get<double>()), {sp, s["test_top1_after_pruning"]}});
    else
      q_curve.push_back({sp, s["test_top1_after_pruning"]});
  }
  std::string comparison;
  int ahead = 0, behind = 0;
  for (const auto& [name, p] : s_points) {
    if (p.first <= 0) continue;
    const double q = interpolate(q_curve, p.first), d = p.second - q;
    if (std::abs(d) * 100 >= kNoisePoints) ++(d > 0 ? ahead : behind);
    comparison += fmt::format(" At {} ({} pruned) the std method gives {} against {} for the percentile method at "
                              "the same sparsity ({} points{}).",
                              name, pct(p.first), pct(p.second), pct(q), points(d),
                              std::abs(d) * 100 < kNoisePoints ? ", inside the noise" : "");
  }
  out.push_back(text(
      "Lab 1: pruning",
      "From `" + r["command"].get<std::string>() + "` (baseline `" + r["baseline"].get<std::string>() +
          "`, test top-1 " + pct(r["baseline_test_top1"]) + ").\n\n"
          "(b) Which method should do better: the threshold s x std(W) of each layer (the std method) adapts each "
          "layer's sparsity to its own weight distribution, while the percentile method removes the same fraction "
          "q of every layer, the small and sensitive first conv and fc layers as much as the large, redundant ones "
          "of the last stage. The std method should lose less at the same overall sparsity."));
  out.push_back(table("(c), (d) Top-1 on all 10,000 test images right after pruning (no retraining):", t));
  out.push_back(text("", "Measured against the percentile curve, interpolated linearly at each std setting's "
                         "sparsity:" + comparison +
                         fmt::format(" Beyond the noise the std method is ahead at {} setting(s) and behind at {}: {}",
                                     ahead, behind,
                                     behind == 0 ? "the prediction holds."
                                     : ahead == 0 ? "the prediction fails here."
                                                  : "the prediction holds at some sparsities and not at others "
                                                    "(above); retraining (Lab 2) recovers both.")));
  for (const char* plot : {"top1_vs_sparsity", "per_layer_sparsity_std", "per_layer_sparsity_percentile"})
    out.push_back(figure(std::string("lab1_") + plot, file_text(dir / (std::string(plot) + ".svg"))));
  // (e), (f): the per-layer pattern at the strongest std setting.
  const json* strongest_setting = nullptr;
  for (const json& s : r["settings"])
    if (s["method"] == "std" && (!strongest_setting || s["amount"] > (*strongest_setting)["amount"])) strongest_setting = &s;
  if (!strongest_setting) return;
  const json& strongest = *strongest_setting;
  const json* least = nullptr;
  const json* most = nullptr;
  for (const json& l : strongest["sparsity"]["layers"]) {
    if (!least || l["sparsity"] < (*least)["sparsity"]) least = &l;
    if (!most || l["sparsity"] > (*most)["sparsity"]) most = &l;
  }
  if (least && most)
    out.push_back(text("", fmt::format(
        "(e), (f) Per-layer sparsity (plots above; per layer in `results/lab1/README.md`): at s = {} the std method "
        "prunes from {} ({}, {} weights) to {} ({}, {} weights), where the percentile method prunes every layer "
        "alike.",
        strongest["amount"].get<double>(), pct((*least)["sparsity"]), (*least)["name"].get<std::string>(),
        count((*least)["weights"]), pct((*most)["sparsity"]), (*most)["name"].get<std::string>(),
        count((*most)["weights"]))));
}

void lab_2(const fs::path& results, std::vector<Block>& out) {
  const fs::path dir = results / "lab2";
  if (missing(dir, "Lab 2: pruning and masked retraining", "dcomp lab2", out)) return;
  const json r = read_json_file((dir / "results.json").string());
  const json& rt = r["retraining"];
  out.push_back(text(
      "Lab 2: pruning and masked retraining",
      "From `" + r["command"].get<std::string>() + "`.\n\n(a) The workflow: prune, then retrain with the mask fixed. "
      "What it adds to ordinary training: after backward, the gradients of pruned weights are zeroed, and after "
      "the optimizer's step the mask is applied to the weights again, so that neither momentum nor weight decay "
      "can revive a pruned weight; the network relearns the kept weights around the holes."));
  out.push_back(figure("lab2_workflow", retraining_diagram()));
  Table t{{"setting", "after pruning", "after retraining", "validation after retraining", "sparsity (conv and fc)"}, {}};
  double worst_drop = 0, worst_recovered = 0;
  std::string worst;
  for (const json& s : r["settings"]) {
    const double sp = s["sparsity"]["prunable_sparsity"];
    const std::string name = fmt::format("{} = {}", s["method"] == "std" ? "s" : "q", s["amount"].get<double>());
    t.rows.push_back({name, pct(s["test_top1_after_pruning"]), pct(s["test_top1_after_retraining"]),
                      s.contains("validation_top1_after_retraining") ? pct(s["validation_top1_after_retraining"]) : "",
                      pct(sp)});
    const double drop = r["baseline_test_top1"].get<double>() - s["test_top1_after_pruning"].get<double>();
    if (drop > worst_drop)
      worst_drop = drop, worst = name,
      worst_recovered = r["baseline_test_top1"].get<double>() - s["test_top1_after_retraining"].get<double>();
  }
  out.push_back(table(fmt::format("(b)-(d) Test top-1 (all 10,000 images) after pruning and after masked retraining "
                                  "({} epochs, lr {}, {} schedule, weight decay {}, batch {}{}):",
                                  rt["epochs"].get<int>(), rt["lr"].get<double>(), rt["schedule"].get<std::string>(),
                                  rt["weight_decay"].get<double>(), rt["batch_size"].get<int>(),
                                  rt["bf16"].get<bool>() ? ", bf16" : ""),
                      t));
  out.push_back(text("", fmt::format("Retraining recovers what pruning loses: the largest drop, {} points at {}, "
                                     "shrinks to {} after retraining.",
                                     points(-worst_drop), worst, points(-worst_recovered))));
  for (const char* plot : {"top1_vs_sparsity", "per_layer_sparsity_std"})
    out.push_back(figure(std::string("lab2_") + plot, file_text(dir / (std::string(plot) + ".svg"))));
}

void lab_3(const fs::path& results, std::vector<Block>& out) {
  const fs::path dir = results / "lab3";
  if (missing(dir, "Lab 3: weight sharing and Huffman coding", "dcomp lab3", out)) return;
  const json r = read_json_file((dir / "results.json").string());
  const double pruned = r["pruned_test_top1"];
  out.push_back(text("Lab 3: weight sharing and Huffman coding",
                     "From `" + r["command"].get<std::string>() + "` (pruned model `" +
                         r["pruned_weights"].get<std::string>() + "`, test top-1 " + pct(pruned) +
                         ").\n\n(b) Weight distributions before and after weight sharing (nonzero weights; dashed "
                         "lines are the shared values), for two layers (all 20 in `results/lab3/histograms/`):"));
  for (const char* layer : {"layer1.0.conv1.weight", "layer3.0.conv2.weight"})
    out.push_back(figure(std::string("lab3_") + layer, file_text(dir / "histograms" / (std::string(layer) + ".svg"))));
  Table t{{"bits", "k-means", "trained quantization", "Huffman bits per nonzero", "seed's formula"}, {}};
  int optimal = 0;
  double optimal_formula = 0, at5 = 0;
  for (const json& b : r["bits"]) {
    const int bits = b["bits"];
    t.rows.push_back({std::to_string(bits), pct(b["test_top1_kmeans"]), pct(b["test_top1_trained"]),
                      fmt::format("{:.3f}", b["huffman"]["average_huffman_bits"].get<double>()),
                      fmt::format("{:.1f}x", b["huffman"]["compression_formula"].get<double>())});
    if ((pruned - b["test_top1_trained"].get<double>()) * 100 < kNoisePoints && (!optimal || bits < optimal))
      optimal = bits, optimal_formula = b["huffman"]["compression_formula"];
    if (bits == 5) at5 = b["huffman"]["average_huffman_bits"];
  }
  out.push_back(table("(c) Top-1 at each width (every conv and fc layer), before and after trained quantization:", t));
  out.push_back(figure("lab3_top1_vs_bits", file_text(dir / "top1_vs_bits.svg")));
  if (optimal)
    out.push_back(text("", fmt::format("The optimal width is the fewest bits whose trained quantization stays within "
                                       "the test noise ({:.2f} points) of the pruned model: {} bits, {:.1f}x by the "
                                       "seed's formula. Below it accuracy falls faster than size: every bit less saves "
                                       "less than the one before, as Huffman already codes the skewed indices in "
                                       "fewer bits than their width.",
                                       kNoisePoints, optimal, optimal_formula)));
  Table inits{{"bits", "linear", "random", "density", "kmeans++"}, {}};
  std::map<int, std::map<std::string, double>> by_bits;
  for (const json& i : r["initializations"]) by_bits[i["bits"].get<int>()][i["init"].get<std::string>()] = i["test_top1"];
  std::string best;
  for (const auto& [bits, row] : by_bits) {
    inits.rows.push_back({std::to_string(bits), pct(row.at("linear")), pct(row.at("random")), pct(row.at("density")),
                          pct(row.at("kmeans++"))});
    const auto top = std::max_element(row.begin(), row.end(), [](auto& a, auto& b) { return a.second < b.second; });
    best += fmt::format(" {} bits: {} ({}).", bits, top->first, pct(top->second));
  }
  out.push_back(table("(d) Initializations of k-means (no fine-tuning), test top-1:", inits));
  out.push_back(text("", "Best per width:" + best +
                             " Linear initialization keeps centroids on the large weights, which random and "
                             "density-based ones leave under-represented; its lead is largest at few bits."));
  out.push_back(text("", fmt::format("(e) The average Huffman-coded length at 5 bits: {:.3f} bits per nonzero "
                                     "weight, against 5 for fixed-length indices.",
                                     at5)));
}

void lab_4(const Lab4& lab, const fs::path& results, std::vector<Block>& out) {
  const json& s = lab.summary;
  const double baseline = s["baseline_top1"], final_top1 = s["final_top1"];
  // Validation: as recorded, else measured here from the file's model.
  double validation = s.value("final_validation_top1", -1.0), validation_baseline = s.value("baseline_validation_top1", -1.0);
  const bool validation_measured = validation < 0;
  if (validation_measured) {
    validation = lab.top1("net_after_quantization.pt", lab.data.validation);
    validation_baseline = lab.top1("net_before_pruning.pt", lab.data.validation);
  }
  Table stages{{"stage", "test top-1"}, {}};
  for (const std::string& stage : pipeline_stages())
    if (s["test_top1_by_stage"].contains(stage)) stages.rows.push_back({stage, pct(s["test_top1_by_stage"][stage])});
  const bool test_bar = holds_bar(final_top1, baseline, 1), validation_bar = holds_bar(validation, validation_baseline, 1);
  const double file_ratio = s["compression_file"], formula = s["compression_formula"];
  out.push_back(text("Lab 4: Deep Compression end to end",
                     "From `" + s["command"].get<std::string>() +
                         "`: prune with masked retraining, share weights by k-means, trained quantization, Huffman "
                         "coding, and the `.dcz` file that holds everything the runtime needs."));
  out.push_back(table("Test top-1 after each stage:", stages));
  Table result{{"", "test", "validation"}, {}};
  result.rows.push_back({"baseline", pct(baseline), pct(validation_baseline)});
  result.rows.push_back({"compressed (the file's model)", pct(final_top1), pct(validation)});
  result.rows.push_back({"loss (points)", points(final_top1 - baseline), points(validation - validation_baseline)});
  result.rows.push_back({"1-point bar", test_bar ? "held" : "missed", validation_bar ? "held" : "missed"});
  out.push_back(table(fmt::format("The target: at least 20x at under 1 point of top-1. Compression {:.1f}x by the "
                                  "seed's formula and {:.1f}x by the size of the file ({} bytes), {} 20x. Test: all "
                                  "10,000 test images; validation: the last 5,000 training images, never trained "
                                  "on{}.",
                                  formula, file_ratio, count(s["file_bytes"].get<int64_t>()),
                                  std::min(formula, file_ratio) >= 20 ? "both above" : "not both above",
                                  validation_measured ? " (measured by this command: the run predates its records)" : ""),
                      result));
  // The frontier: every committed point, and those that hold the bar on both splits.
  const fs::path frontier = results / "frontier";
  if (!fs::exists(frontier)) return;
  Table points_table{{"run", "test top-1", "validation top-1", "file", "formula", "bar on both"}, {}};
  std::vector<std::pair<double, std::vector<std::string>>> rows;
  for (const auto& entry : fs::directory_iterator(frontier)) {
    if (!fs::exists(entry.path() / "summary.json")) continue;
    const FrontierPoint p = read_frontier_point(entry.path().string(), lab.data_dir);
    const double point_validation_baseline =
        p.baseline_validation_top1() >= 0 ? p.baseline_validation_top1() : validation_baseline;
    const bool both = holds_bar(p.top1(), p.summary["baseline_top1"], 1) &&
                      holds_bar(p.validation_top1(), point_validation_baseline, 1);
    rows.push_back({p.file_factor(),
                    {entry.path().filename().string(), pct(p.top1()),
                     pct(p.validation_top1()) + (p.measured_validation_top1 >= 0 ? " (from the file)" : ""),
                     fmt::format("{:.1f}x", p.file_factor()),
                     fmt::format("{:.1f}x", p.summary["compression_formula"].get<double>()), both ? "yes" : ""}});
  }
  std::sort(rows.begin(), rows.end(), [](auto& a, auto& b) { return a.first < b.first; });
  std::string largest;
  for (auto& [ratio, row] : rows) {
    if (row.back() == "yes") largest = row[0] + " (" + row[3] + " by file size, " + row[4] + " by the formula)";
    points_table.rows.push_back(row);
  }
  out.push_back(text("Beyond the target: the frontier",
                     "Every committed run under `" + frontier.string() +
                         "` (pruning depth, bits, quantizers, distillation; `results/frontier/README.md` says how "
                         "each was made), by file ratio. Validation is the last 5,000 training images, never "
                         "trained on (\"from the file\": measured by this command, where the run predates its "
                         "records); a point holds the bar when it does on both splits." +
                         (largest.empty() ? std::string(" None holds it on both.")
                                          : " The largest that holds it on both: " + largest + ".")));
  out.push_back(figure("frontier", file_text(frontier / "frontier.svg")));
  out.push_back(table("", points_table));
}

}  // namespace dcomp::cli::homework
