// How fast the compressed file is read: whole-file decode (checksum,
// validation, both Huffman streams of every tensor) and encode, in MB/s of
// file and millions of decoded symbols per second. Core only, no LibTorch.
//   decode_speed results/lenet300/lenet300.dcz [--reps 200]
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
  app.add_option("file", path, "A .dcz file")->required();
  app.add_option("--reps", reps, "Timed repetitions (the median is reported)")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  try {
    std::ifstream in(path, std::ios::binary);
    const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const dcomp::dcz::Model model = dcomp::dcz::decode(bytes.data(), bytes.size());
    uint64_t symbols = 0;  // one index and at least one gap symbol per nonzero
    for (const auto& t : model.tensors) symbols += 2 * t.shared.positions.size();
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
    std::printf("{\"file\": \"%s\", \"bytes\": %zu, \"decode_ms\": %.3f, \"decode_MB_per_s\": %.1f, "
                "\"decoded_Msymbols_per_s\": %.1f, \"encode_ms\": %.3f}\n",
                path.c_str(), bytes.size(), 1e3 * decode, double(bytes.size()) / decode / 1e6,
                double(symbols) / decode / 1e6, 1e3 * encode);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "decode_speed: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
