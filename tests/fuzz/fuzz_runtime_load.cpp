// libFuzzer target: arbitrary bytes into the runtime's loader (decode, then
// plan the graph against the tensors and the input), and one inference when
// that succeeds. Rejections are exceptions; anything else is a bug. The
// corpus holds one file per test model (scripts/fuzz_corpus.sh).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <vector>

#include "core/compressed_file.h"
#include "runtime/network.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const dcomp::dcz::Model file = dcomp::dcz::decode(data, size);
    const dcomp::runtime::InputSpec input = dcomp::runtime::input_spec(file);
    const auto network = std::make_unique<dcomp::runtime::Network>(file, input);
    std::vector<float> image(size_t(input.channels * input.height * input.width), 0.5f);
    std::vector<float> logits(size_t(network->classes()));
    network->forward_batch(image.data(), int64_t(image.size()), 1, logits.data());
  } catch (const std::exception&) {
  }
  return 0;
}
