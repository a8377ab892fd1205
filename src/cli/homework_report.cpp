#include "cli/homework_report.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>

#include "cli/model_io.h"
#include "libtorch/compressed_model.h"
#include "libtorch/homework_questions.h"
#include "libtorch/json_file.h"
#include "libtorch/pipeline.h"
#include "libtorch/runtime_info.h"
#include "libtorch/train.h"
#include "report/svg_chart.h"

namespace dcomp::cli {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

// The test split's noise: one standard error of a top-1 near 88% on 10,000
// images is 0.32 points; differences inside it are not findings.
constexpr double kNoisePoints = 0.33;

std::string pct(double v) { return fmt::format("{:.2f}%", 100 * v); }
std::string points(double v) { return fmt::format("{:+.2f}", 100 * v); }
std::string count(int64_t n) {
  std::string s = std::to_string(n);
  for (int i = int(s.size()) - 3; i > 0; i -= 3) s.insert(size_t(i), ",");
  return s;
}

std::string file_text(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

Block text(const std::string& heading, const std::string& body) { return {heading, body, {}, "", ""}; }
Block figure(const std::string& name, const std::string& svg) { return {"", "", {}, name, svg}; }
Block table(const std::string& body, Table t) { return {"", body, std::move(t), "", ""}; }

// What the Lab 4 run left, and what it ran on.
struct Lab4 {
  fs::path dir;
  json summary;
  std::string architecture;
  DatasetInfo info;
  DataSplits data;
  torch::Device device = torch::kCPU;
  fs::path file() const { return dir / (summary["model"].get<std::string>() + ".dcz"); }
  std::string model(const std::string& name) const { return (dir / name).string(); }
};

// ---- Problem 1 ----------------------------------------------------------

void problem_1_1_and_1_2(const Lab4& lab, std::vector<Block>& out) {
  const std::vector<int> bits = {2, 3, 4, 5};
  const auto dense = sharing_without_retraining(lab.model("net_before_pruning.pt"), lab.architecture, bits,
                                                lab.data.test, lab.info, lab.device);
  const auto pruned = sharing_without_retraining(lab.model("net_after_pruning.pt"), lab.architecture, bits,
                                                 lab.data.test, lab.info, lab.device);
  auto top1 = [&](const std::string& name) {
    auto model = load_model(lab.model(name), lab.architecture);
    model->set_data(lab.info);
    model->to(lab.device);
    return evaluate(*model, lab.data.test, lab.info, lab.device).top1;
  };
  const double dense_top1 = top1("net_before_pruning.pt"), pruned_top1 = top1("net_after_pruning.pt");

  Table t{{"bits", "unpruned: top-1", "unpruned: loss", "pruned: top-1", "pruned: loss", "difference of losses"}, {}};
  int interferes = 0;  // bit widths at which pruning costs quantization more than the noise
  for (size_t i = 0; i < bits.size(); ++i) {
    const double dl = dense_top1 - dense[i].test_top1, pl = pruned_top1 - pruned[i].test_top1;
    t.rows.push_back({std::to_string(bits[i]), pct(dense[i].test_top1), points(-dl), pct(pruned[i].test_top1),
                      points(-pl), points(dl - pl)});
    if (pl - dl > kNoisePoints / 100) ++interferes;
  }
  out.push_back(text("Problem 1.1: pruning and quantization",
                     "Statement: pruning does not interfere with quantization.\n\n"
                     "Measured: every conv and fc layer shared by k-means (linear initialization, no retraining) at "
                     "2 to 5 bits, once on the unpruned baseline (`net_before_pruning.pt`, test top-1 " +
                         pct(dense_top1) + ") and once on the pruned and retrained model (`net_after_pruning.pt`, " +
                         pct(pruned_top1) + "). The loss is against each model's own top-1."));
  out.push_back(table("", t));
  const bool holds = interferes == 0;
  out.push_back(text("", fmt::format(
      "Verdict: **{}**. {} The pruned model's centroids are fitted to its nonzero weights only: pruning removes the "
      "peak of small weights around zero (histograms below), so the 2^k centroids spread over the weights that "
      "remain instead of crowding where most of the unpruned weights sit, and the zeros themselves are exact "
      "(a pruned weight takes no centroid).",
      holds ? "true" : "false",
      holds ? fmt::format("At no width from 2 to 5 bits does the pruned model lose more than the unpruned one beyond "
                          "the test noise ({:.2f} points).",
                          kNoisePoints)
            : fmt::format("At {} of the 4 widths the pruned model loses more than the unpruned one, beyond the test "
                          "noise ({:.2f} points).",
                          interferes, kNoisePoints))));
  // The weight distribution the centroids are fitted to, before and after pruning.
  auto before = load_model(lab.model("net_before_pruning.pt"), lab.architecture);
  auto after = load_model(lab.model("net_after_pruning.pt"), lab.architecture);
  const auto weights_before = before->prunable_weights(), weights_after = after->prunable_weights();
  for (size_t i : {size_t(1), weights_before.size() - 2}) {
    if (i >= weights_before.size()) continue;
    auto values = [](const torch::Tensor& w, bool nonzero) {
      torch::Tensor v = w.detach().flatten().to(torch::kFloat64).cpu();
      if (nonzero) v = v.index({v.ne(0)});
      return std::vector<double>(v.data_ptr<double>(), v.data_ptr<double>() + v.numel());
    };
    out.push_back(figure(
        "weights_" + weights_before[i].name,
        histogram_panels({weights_before[i].name + ": weights before pruning, and the nonzeros after", "weight", "count"},
                         {{"before pruning", values(weights_before[i].weight, false)},
                          {"after pruning and retraining (nonzeros)", values(weights_after[i].weight, true)}},
                         {}, 80)));
  }

  // 1.2: product tables, and Huffman with and without pruning.
  const dcz::Model file = dcz::read(lab.file().string());
  Table products{{"layer", "bits", "products per output, direct (its nonzeros)", "products per output, by centroid",
                  "table entries (8-bit inputs)", "table bytes (fp32)"},
                 {}};
  int64_t largest_table = 0;
  for (const dcz::Tensor& tensor : file.tensors) {
    if (tensor.storage != dcz::Storage::kShared || tensor.shape.empty()) continue;
    const int64_t outputs = tensor.shape[0];
    const double per_output = double(tensor.shared.positions.size()) / double(outputs);
    const int64_t centroids = int64_t(tensor.shared.codebook.size());
    largest_table = std::max(largest_table, centroids * 256);
    products.rows.push_back({tensor.name, std::to_string(tensor.shared.bits), fmt::format("{:.1f}", per_output),
                             std::to_string(std::min<int64_t>(centroids, int64_t(std::ceil(per_output)))),
                             count(centroids * 256), count(centroids * 256 * 4)});
  }
  const size_t at4 = 2;  // bits[2] == 4
  const double dense_bits = dense[at4].bits_per_index, pruned_bits = pruned[at4].bits_per_index;
  Table huffman{{"model at 4 bits", "indices coded", "Huffman bits per index", "index bits in all"}, {}};
  huffman.rows.push_back({"unpruned", count(dense[at4].indices), fmt::format("{:.3f}", dense_bits),
                          count(int64_t(std::llround(dense_bits * double(dense[at4].indices))))});
  huffman.rows.push_back({"pruned", count(pruned[at4].indices), fmt::format("{:.3f}", pruned_bits),
                          count(int64_t(std::llround(pruned_bits * double(pruned[at4].indices))))});
  out.push_back(text("Problem 1.2: a look-up table of products; pruning and Huffman coding",
                     "Statements: with weight sharing, a layer's multiplications can be replaced by a look-up table "
                     "of products; and pruning directly benefits Huffman coding.\n\n"
                     "Products: a layer shares at most 2^k distinct weights, so an output can sum the inputs that "
                     "share a centroid and multiply once per centroid, and with 8-bit inputs every product a layer can "
                     "need fits a table of (centroids x 256) entries. Measured on the Lab 4 file (`" +
                         lab.file().filename().string() + "`), per layer:"));
  out.push_back(table("", products));
  out.push_back(table(
      "Huffman coding: the indices of the same k-means at 4 bits, without and with pruning (the runs of Problem "
      "1.1):",
      huffman));
  // Per index, a difference under 0.05 bits (1.4% of a 4-bit index) is no change.
  const double change = pruned_bits - dense_bits;
  const std::string per_index =
      std::abs(change) < 0.05 ? fmt::format("about as many bits per index ({:.3f} against {:.3f})", pruned_bits, dense_bits)
      : change < 0 ? fmt::format("fewer bits per index ({:.3f} against {:.3f})", pruned_bits, dense_bits)
                   : fmt::format("more bits per index ({:.3f} against {:.3f})", pruned_bits, dense_bits);
  out.push_back(text("", fmt::format(
      "Verdict: the first half is **true** (the tables above are small: at most {} entries per layer); the second "
      "is **{}**. Pruning removes {:.1f}% of the indices, and that is where its saving comes from; per index, "
      "Huffman needs {} with pruning as without. Each model's centroids are fitted to its own weights, so the index "
      "distribution stays about as skewed either way. The benefit is indirect, fewer symbols rather than cheaper "
      "ones, and the positions of the nonzeros must now be coded too.",
      count(largest_table), change < -0.05 ? "true" : "false, or true only indirectly",
      100.0 * (1 - double(pruned[at4].indices) / double(dense[at4].indices)), per_index)));
}

void problem_1_3(const Lab4& lab, const HomeworkInputs& in, std::vector<Block>& out) {
  const TrainingSpeed s = dense_and_masked_training(lab.model("net_after_pruning.pt"), lab.architecture,
                                                    lab.data.train, lab.info, lab.device, in.training_steps,
                                                    in.training_repetitions);
  Table t{{"repetition", "dense training, images/s", "masked retraining, images/s", "masked / dense"}, {}};
  std::vector<double> ratios;
  for (size_t r = 0; r < s.dense.size(); ++r) {
    ratios.push_back(s.masked[r] / s.dense[r]);
    t.rows.push_back({std::to_string(r + 1), fmt::format("{:.0f}", s.dense[r]), fmt::format("{:.0f}", s.masked[r]),
                      fmt::format("{:.3f}", ratios.back())});
  }
  std::sort(ratios.begin(), ratios.end());
  const double median = ratios[ratios.size() / 2];
  out.push_back(text("Problem 1.3: training a pruned model",
                     fmt::format("Statement: training a pruned model on GPUs is much faster.\n\nMeasured: training "
                                 "steps of the pruned Lab 4 model (`net_after_pruning.pt`) on this machine ({}, "
                                 "batch {}, {} steps per timing{}, which goes first alternating), dense (its zeros train like any weight) and "
                                 "masked (dcomp's masked retraining: gradients masked, masks re-applied after each "
                                 "step), timed in turn on the same batches:",
                                 lab.device.is_cuda() ? "CUDA" : "CPU", s.batch_size, s.steps,
                                 s.bf16 ? ", bf16 autocast" : "")));
  out.push_back(table("", t));
  out.push_back(text("", fmt::format(
      "Verdict: **false**. Masked retraining ran at {:.2f}x the dense speed (median of {}, from {:.2f}x to {:.2f}x; "
      "the order alternates, and timings here drift with whatever else the machine runs): no faster, because the zeros are scattered one by one (unstructured pruning), so the "
      "convolutions still run dense kernels over every weight, and the masks add two elementwise products per "
      "weight and step. The same holds on a GPU, whose dense kernels (cuDNN, cuBLAS) gain nothing from scattered "
      "zeros; only structured sparsity (whole channels or filters, or the 2:4 pattern of sparse tensor cores) or "
      "sparse kernels at far higher sparsity make training faster.",
      median, ratios.size(), ratios.front(), ratios.back())));
}

void problem_1_4(std::vector<Block>& out) {
  Series huffman{"Huffman", {}, {}}, bound{"log2 N", {}, {}};
  Table t{{"N", "average bits", "log2 N", "excess"}, {}};
  double worst = 0;
  int worst_n = 2;
  for (int n = 2; n <= 256; ++n) {
    const double bits = uniform_huffman_bits(n), log2n = std::log2(double(n));
    huffman.x.push_back(n);
    huffman.y.push_back(bits);
    bound.x.push_back(n);
    bound.y.push_back(log2n);
    if (bits - log2n > worst) worst = bits - log2n, worst_n = n;
    if ((n & (n - 1)) == 0 || n == 3 || n == 5 || n == 10 || n == 100 || n == 200)
      t.rows.push_back({std::to_string(n), fmt::format("{:.4f}", bits), fmt::format("{:.4f}", log2n),
                        fmt::format("{:.4f}", bits - log2n)});
  }
  out.push_back(text("Problem 1.4: Huffman coding of a uniform distribution",
                     "Statement: Huffman coding of N equally likely symbols takes O(log N) bits per symbol on "
                     "average.\n\nMeasured: dcomp's Huffman coder (the one that writes every .dcz) on N equally "
                     "frequent symbols, N = 2 to 256:"));
  out.push_back(table("", t));
  out.push_back(figure("uniform_huffman", line_chart({"Huffman on N equally likely symbols", "N", "bits per symbol"},
                                                      {huffman, bound})));
  out.push_back(text("", fmt::format(
      "Verdict: **true**. The code gives 2^(L+1) - N symbols L = floor(log2 N) bits and the rest L + 1, so the "
      "average lies between log2 N and log2 N + 1; measured, it is exactly log2 N for powers of two and at most "
      "{:.4f} bits above it (N = {}). It is Theta(log N): no code does better on a uniform source, whose entropy "
      "is log2 N.",
      worst, worst_n)));
}

void problem_1_5(const Lab4& lab, std::vector<Block>& out) {
  const dcz::Model file = dcz::read(lab.file().string());
  dcz::Layout layout;
  dcz::encode(file, &layout);
  const PartBytes parts = part_bytes(file, layout);
  Table t{{"layer", "weights N", "bits k", "N k", "codebook 32 x 2^k", "stored codebook", "nonzeros n",
           "n k + positions (file)"},
          {}};
  int64_t nk = 0, codebook_bits = 0, stored_codebook_bits = 0;
  for (const SharedTensorBits& r : shared_tensor_bits(file, layout)) {
    nk += r.weights * r.bits;
    codebook_bits += 32 << r.bits;
    stored_codebook_bits += 32 * r.codebook_entries;
    t.rows.push_back({r.name, count(r.weights), std::to_string(r.bits), count(r.weights * r.bits),
                      count(int64_t(32) << r.bits), count(32 * r.codebook_entries), count(r.nonzeros),
                      count(int64_t(r.nonzeros * r.bits + r.coded_position_bits))});
  }
  out.push_back(text("Problem 1.5: the size of k-means' output",
                     "Statement: k-means weight sharing at k bits stores N weights in N k bits.\n\nMeasured on the "
                     "Lab 4 file (`" + lab.file().filename().string() +
                         "`): each shared layer's N k index bits, the codebook of 2^k float32 values beside them, "
                         "and what the file stores for it."));
  out.push_back(table("", t));
  out.push_back(text("", fmt::format(
      "Verdict: **false**. The exact count is N k bits of indices plus 32 x 2^k bits of codebook per layer: here "
      "{} index bits and {} codebook bits ({:.1f}% more than N k alone). The file's own byte breakdown {}: its "
      "codebooks take {} bytes ({} bits), against {} bits for 32 bits per stored entry (it stores only the "
      "entries in use, of {} bits for full 2^k tables). With pruning, N k is not even the index count: only the "
      "nonzeros have indices, and their positions cost bits of their own.",
      count(nk), count(codebook_bits), 100.0 * double(codebook_bits) / double(nk),
      int64_t(8 * parts.codebooks) == stored_codebook_bits ? "agrees" : "disagrees", count(int64_t(parts.codebooks)),
      count(int64_t(8 * parts.codebooks)), count(stored_codebook_bits), count(codebook_bits))));
}

// ---- Labs 1-4, from the committed results ---------------------------------

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
    auto quantized = load_model(lab.model("net_after_quantization.pt"), lab.architecture);
    quantized->set_data(lab.info);
    quantized->to(lab.device);
    validation = evaluate(*quantized, lab.data.validation, lab.info, lab.device).top1;
    auto base = load_model(lab.model("net_before_pruning.pt"), lab.architecture);
    base->set_data(lab.info);
    base->to(lab.device);
    validation_baseline = evaluate(*base, lab.data.validation, lab.info, lab.device).top1;
  }
  Table stages{{"stage", "test top-1"}, {}};
  for (const std::string& stage : pipeline_stages())
    if (s["test_top1_by_stage"].contains(stage)) stages.rows.push_back({stage, pct(s["test_top1_by_stage"][stage])});
  const bool test_bar = baseline - final_top1 <= 0.01 + 1e-9, validation_bar = validation_baseline - validation <= 0.01 + 1e-9;
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
    const fs::path summary = entry.path() / "summary.json";
    if (!fs::exists(summary)) continue;
    const json p = read_json_file(summary.string());
    // Validation as the run recorded it, else measured here from its file.
    const bool recorded = p.contains("final_validation_top1");
    const double point_validation =
        recorded ? p["final_validation_top1"].get<double>()
                 : evaluate(*built_in_model(dcz::read((entry.path() / (p["model"].get<std::string>() + ".dcz")).string())),
                            lab.data.validation, lab.info, torch::kCPU)
                       .top1;
    const double point_validation_baseline = p.value("baseline_validation_top1", validation_baseline);
    const bool both = p["baseline_top1"].get<double>() - p["final_top1"].get<double>() <= 0.01 + 1e-9 &&
                      point_validation_baseline - point_validation <= 0.01 + 1e-9;
    rows.push_back({p["compression_file"].get<double>(),
                    {entry.path().filename().string(), pct(p["final_top1"]),
                     pct(point_validation) + (recorded ? "" : " (from the file)"),
                     fmt::format("{:.1f}x", p["compression_file"].get<double>()),
                     fmt::format("{:.1f}x", p["compression_formula"].get<double>()), both ? "yes" : ""}});
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

}  // namespace

Document homework_report(const HomeworkInputs& in) {
  Lab4 lab;
  lab.dir = in.results / "lab4";
  for (const char* f : {"summary.json", "net_before_pruning.pt", "net_after_pruning.pt", "net_after_quantization.pt"})
    if (!fs::exists(lab.dir / f))
      throw std::runtime_error((lab.dir / f).string() + " not found (the Lab 4 pipeline's --results writes it)");
  lab.summary = read_json_file((lab.dir / "summary.json").string());
  lab.architecture = lab.summary["config"]["model"];
  if (!fs::exists(lab.file())) throw std::runtime_error(lab.file().string() + " not found");
  CommonOptions common = in.common;
  auto probe = load_model(lab.model("net_after_quantization.pt"), lab.architecture);
  lab.info = model_data(*probe, common);
  lab.data = load_data(lab.info, common, lab.summary["config"].value(json::json_pointer("/retraining/validation_size"), 5000));
  lab.device = resolve_device(common.device);

  Document d;
  d.title = "Deep Compression of " + lab.summary["model"].get<std::string>() + ": the homework's report";
  d.blocks.push_back(text("", fmt::format(
      "Made by `dcomp submission --results {}` (dcomp at commit `{}`). Every figure is read from the committed "
      "results or measured by that command on the committed Lab 4 models (`{}`); each section names the command "
      "that made its results.\n\nLab 4 in one line: test top-1 {} -> {} at {:.1f}x by the size of one compressed "
      "file that holds everything needed to run the model, {:.1f}x by the seed's formula (nonzero/total x bits/32 x "
      "Huffman length/bits).",
      in.results.string(), git_commit(), lab.dir.string(), pct(lab.summary["baseline_top1"]),
      pct(lab.summary["final_top1"]), lab.summary["compression_file"].get<double>(),
      lab.summary["compression_formula"].get<double>())));
  problem_1_1_and_1_2(lab, d.blocks);
  problem_1_3(lab, in, d.blocks);
  problem_1_4(d.blocks);
  problem_1_5(lab, d.blocks);
  lab_1(in.results, d.blocks);
  lab_2(in.results, d.blocks);
  lab_3(in.results, d.blocks);
  lab_4(lab, in.results, d.blocks);
  std::string contents = "Contents:\n";
  for (const Block& b : d.blocks)
    if (!b.heading.empty()) contents += "\n- " + b.heading;
  d.blocks.insert(d.blocks.begin() + 1, text("", contents));
  return d;
}

}  // namespace dcomp::cli
