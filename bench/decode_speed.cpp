// How fast the compressed file is read: whole-file decode (checksum,
// validation, the entropy-coded streams of every tensor) and encode, in MB/s
// of file, millions of shared weights per second (zeros included) and of
// Huffman symbols. --coder re-encodes the shared tensors first. Core only,
// no LibTorch.
//   decode_speed results/lab4/resnet20.dcz [--coder adaptive] [--reps 200]
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>

#include "core/compressed_file.h"

using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
  CLI::App app{"Compressed-file decode and encode speed"};
  std::string path;
  int reps = 200;
  std::string coder = "file";
  app.add_option("file", path, "A .dcz file")->required();
  app.add_option("--reps", reps, "Timed repetitions (the median is reported)")->capture_default_str();
  app.add_option("--coder", coder, "Re-encode the shared tensors first: huffman or adaptive (default: as the file is)")
      ->check(CLI::IsMember({"file", "huffman", "adaptive"}));
  CLI11_PARSE(app, argc, argv);
  try {
    dcomp::dcz::Model model = dcomp::dcz::read(path);
    if (coder != "file")
      for (auto& t : model.tensors)
        t.coder = coder == "adaptive" ? dcomp::dcz::Coder::kAdaptive : dcomp::dcz::Coder::kHuffman;
    const std::vector<uint8_t> bytes = dcomp::dcz::encode(model);
    uint64_t symbols = 0, weights = 0;  // Huffman: one index and at least one gap symbol per nonzero
    for (const auto& t : model.tensors)
      if (t.storage == dcomp::dcz::Storage::kShared) symbols += 2 * t.shared.positions.size(), weights += t.numel();
    auto median = [&](auto f) {
      std::vector<double> s;
      for (int i = 0; i < reps; ++i) {
        const auto start = Clock::now();
        f();
        s.push_back(std::chrono::duration<double>(Clock::now() - start).count());
      }
      std::nth_element(s.begin(), s.begin() + long(s.size() / 2), s.end());
      return s[s.size() / 2];
    };
    const double decode = median([&] { dcomp::dcz::decode(bytes.data(), bytes.size()); });
    const double encode = median([&] { dcomp::dcz::encode(model); });
    std::printf("{\"file\": \"%s\", \"coder\": \"%s\", \"bytes\": %zu, \"decode_ms\": %.3f, "
                "\"decode_MB_per_s\": %.1f, \"decoded_Mweights_per_s\": %.1f, \"decoded_Msymbols_per_s\": %.1f, "
                "\"encode_ms\": %.3f}\n",
                path.c_str(), coder.c_str(), bytes.size(), 1e3 * decode, double(bytes.size()) / decode / 1e6,
                double(weights) / decode / 1e6, double(symbols) / decode / 1e6, 1e3 * encode);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "decode_speed: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
