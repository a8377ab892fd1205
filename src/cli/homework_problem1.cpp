// Problem 1.1-1.5 of the homework, each answered with a measurement made here
// on the Lab 4 models (libtorch/homework_questions.h).
#include <algorithm>
#include <cmath>

#include "cli/homework_sections.h"
#include "core/compressed_file.h"
#include "libtorch/compressed_model.h"
#include "libtorch/homework_questions.h"
#include "libtorch/model_file.h"
#include "report/svg_chart.h"

namespace dcomp::cli::homework {

namespace fs = std::filesystem;

void problem_1_1_and_1_2(const Lab4& lab, std::vector<Block>& out) {
  const std::vector<int> bits = {2, 3, 4, 5};
  const auto dense = sharing_without_retraining(lab.path("net_before_pruning.pt"), lab.architecture, bits,
                                                lab.data.test, lab.info, lab.device);
  const auto pruned = sharing_without_retraining(lab.path("net_after_pruning.pt"), lab.architecture, bits,
                                                 lab.data.test, lab.info, lab.device);
  const double dense_top1 = lab.top1("net_before_pruning.pt", lab.data.test),
               pruned_top1 = lab.top1("net_after_pruning.pt", lab.data.test);

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
  auto before = load_model(lab.path("net_before_pruning.pt"), lab.architecture);
  auto after = load_model(lab.path("net_after_pruning.pt"), lab.architecture);
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
  const dcz::Model& file = lab.compressed;
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
  const TrainingSpeed s = dense_and_masked_training(lab.path("net_after_pruning.pt"), lab.architecture,
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
  const dcz::Model& file = lab.compressed;
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

}  // namespace dcomp::cli::homework
