#include "libtorch/coding_report.h"

#include <fmt/format.h>

#include <cmath>
#include <filesystem>
#include <limits>

#include "core/atomic_file.h"
#include "core/huffman.h"
#include "core/npy.h"

namespace dcomp {

CodingReport huffman_report(const std::vector<SharedLayer>& layers) {
  CodingReport report;
  uint64_t total_bits = 0;
  for (const SharedLayer& shared : layers) {
    LayerCoding c;
    c.name = shared.name;
    c.bits = shared.bits;
    c.weights = shared.index.numel();
    const torch::Tensor kept = shared.index.flatten().masked_select(shared.index.flatten().ge(0));
    c.nonzeros = kept.numel();
    const torch::Tensor counts = torch::bincount(kept, {}, int64_t(shared.codebook.size()));
    for (int64_t i = 0; i < counts.numel(); ++i) c.frequencies.push_back(uint64_t(counts[i].item<int64_t>()));
    c.code_lengths = huffman::code_lengths(c.frequencies, kIndexCodeLimit);
    const uint64_t bits = huffman::encoded_bits(c.frequencies, c.code_lengths);
    c.average_bits = c.nonzeros ? double(bits) / double(c.nonzeros) : 0;
    for (uint64_t f : c.frequencies)  // H = -sum p log2 p
      if (f) c.entropy_bits -= double(f) / double(c.nonzeros) * std::log2(double(f) / double(c.nonzeros));
    total_bits += bits;
    report.weights += c.weights;
    report.nonzeros += c.nonzeros;
    report.layers.push_back(std::move(c));
  }
  report.average_bits = report.nonzeros ? double(total_bits) / double(report.nonzeros) : 0;
  report.formula_factor = total_bits ? 32.0 * double(report.weights) / double(total_bits) : 0;
  return report;
}

nlohmann::json to_json(const CodingReport& r) {
  nlohmann::json layers = nlohmann::json::array();
  for (const LayerCoding& c : r.layers)
    layers.push_back({{"name", c.name},
                      {"bits", c.bits},
                      {"weights", c.weights},
                      {"nonzeros", c.nonzeros},
                      {"average_huffman_bits", c.average_bits},
                      {"entropy_bits", c.entropy_bits},
                      {"frequencies", c.frequencies},
                      {"code_lengths", c.code_lengths}});
  return {{"layers", layers},
          {"weights", r.weights},
          {"nonzeros", r.nonzeros},
          {"average_huffman_bits", r.average_bits},
          {"ratio_formula", r.formula_factor ? 1.0 / r.formula_factor : 0.0},
          {"compression_formula", r.formula_factor}};
}

std::string format_table(const CodingReport& r) {
  std::string out = fmt::format("{:<26} {:>4} {:>9} {:>9} {:>10} {:>9}\n", "layer", "bits", "weights", "nonzeros",
                                "huffman b", "entropy");
  for (const LayerCoding& c : r.layers)
    out += fmt::format("{:<26} {:>4} {:>9} {:>9} {:>10.3f} {:>9.3f}\n", c.name, c.bits, c.weights, c.nonzeros,
                       c.average_bits, c.entropy_bits);
  out += fmt::format("{:<26} {:>4} {:>9} {:>9} {:>10.3f}\n", "total", "", r.weights, r.nonzeros, r.average_bits);
  out += fmt::format("compression by the seed's formula: {:.2f}x (ratio {:.5f})\n", r.formula_factor,
                     r.formula_factor ? 1.0 / r.formula_factor : 0.0);
  return out;
}

void write_coding_artifacts(const std::string& dir, const std::string& model, const std::vector<SharedLayer>& layers,
                            const CodingReport& report) {
  std::filesystem::create_directories(dir);
  size_t width = 0;
  for (const SharedLayer& l : layers) width = std::max(width, l.codebook.size());
  const std::vector<int64_t> shape = {int64_t(layers.size()), int64_t(width)};
  std::vector<float> codebook(layers.size() * width, std::numeric_limits<float>::quiet_NaN());
  std::vector<std::string> encoding(layers.size() * width);
  std::vector<int64_t> frequency(layers.size() * width, 0);
  nlohmann::json names = nlohmann::json::array();
  for (size_t l = 0; l < layers.size(); ++l) {
    const LayerCoding& c = report.layers[l];
    const std::vector<huffman::Code> codes = huffman::canonical_codes(c.code_lengths);
    for (size_t s = 0; s < layers[l].codebook.size(); ++s) {
      frequency[l * width + s] = int64_t(c.frequencies[s]);
      if (c.frequencies[s] == 0) continue;  // an unused entry: NaN and ''
      codebook[l * width + s] = layers[l].codebook[s];
      for (int b = codes[s].length - 1; b >= 0; --b) encoding[l * width + s] += (codes[s].bits >> b & 1) ? '1' : '0';
    }
    names.push_back({{"row", l}, {"name", layers[l].name}, {"bits", layers[l].bits}});
  }
  const std::filesystem::path d(dir);
  npy::save((d / ("codebook_" + model + ".npy")).string(), codebook, shape);
  npy::save((d / "huffman_encoding.npy").string(), encoding, shape);
  npy::save((d / "huffman_freq.npy").string(), frequency, shape);
  write_file_atomic((d / "huffman_layers.json").string(), nlohmann::json{{"model", model}, {"layers", names}}.dump(2) + "\n");
}

}  // namespace dcomp
