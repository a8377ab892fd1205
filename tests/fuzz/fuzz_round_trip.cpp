// libFuzzer target: the bytes choose a model (shapes, sparsity, codebooks,
// indices, storage kinds, coders, a graph reading its tensors); encoding then
// decoding it must give it back exactly. A mismatch aborts.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "core/compressed_file.h"

namespace {

// Reads small integers from the fuzzer's bytes; zeros once they run out.
struct Bytes {
  const uint8_t* data;
  size_t size, at = 0;
  uint32_t next(uint32_t bound) { return at < size ? data[at++] % bound : 0; }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Bytes in{data, size};
  dcomp::dcz::Model model;
  model.metadata.push_back({"model", "fuzz"});
  const uint32_t tensors = 1 + in.next(4);
  for (uint32_t t = 0; t < tensors; ++t) {
    dcomp::dcz::Tensor tensor;
    tensor.name = "t" + std::to_string(t) + std::string(in.next(3), 'x');
    tensor.shape = {int64_t(1 + in.next(40)), int64_t(1 + in.next(200))};
    if (in.next(2)) tensor.shape.insert(tensor.shape.end(), {int64_t(1 + in.next(4)), int64_t(1 + in.next(4))});
    const uint32_t kind = in.next(5);
    tensor.storage = kind == 0 ? dcomp::dcz::Storage::kFloat32
                   : kind == 1 ? dcomp::dcz::Storage::kInt64
                   : kind == 2 ? dcomp::dcz::Storage::kFloat16
                   : kind == 3 ? dcomp::dcz::Storage::kConstant
                               : dcomp::dcz::Storage::kShared;
    // A constant has no coder: it reads back as Huffman's.
    tensor.coder = in.next(2) && kind != 3 ? dcomp::dcz::Coder::kAdaptive : dcomp::dcz::Coder::kHuffman;
    const uint64_t n = tensor.numel();
    if (tensor.storage == dcomp::dcz::Storage::kShared) {
      dcomp::dcz::SharedTensor& s = tensor.shared;
      s.bits = int(1 + in.next(8));
      const uint32_t k = 1 + in.next(1u << s.bits);
      for (uint32_t i = 0; i < k; ++i) s.codebook.push_back(float(int(in.next(255)) - 127) / 64.0f);
      const uint32_t keep = in.next(256);  // density, out of 256
      for (uint32_t p = 0; p < n; ++p)
        if (in.next(256) < keep) {
          s.positions.push_back(p);
          s.indices.push_back(uint8_t(in.next(k)));
        }
    } else if (tensor.storage == dcomp::dcz::Storage::kInt64) {
      for (uint64_t i = 0; i < n; ++i) tensor.integers.push_back(int64_t(in.next(256)) - 128);
    } else if (tensor.storage == dcomp::dcz::Storage::kConstant) {
      tensor.floats.assign(size_t(n), float(int(in.next(256)) - 128) / 32.0f);
    } else {  // halves exactly, so float16 round-trips too
      for (uint64_t i = 0; i < n; ++i) tensor.floats.push_back(float(int(in.next(256)) - 128) / 32.0f);
    }
    model.tensors.push_back(std::move(tensor));
  }
  // A graph: each float and shared tensor read by one operation, reading
  // any earlier value, with slices and adds between them for attributes of
  // every kind (negative ints, floats).
  using dcomp::dcz::Op;
  std::vector<dcomp::dcz::Node>& nodes = model.graph.nodes;
  for (const dcomp::dcz::Tensor& t : model.tensors) {
    if (t.storage == dcomp::dcz::Storage::kInt64) continue;
    nodes.push_back({Op::kLinear, {in.next(uint32_t(nodes.size()) + 1)}, {t.name}, {}, {}});
    if (in.next(2))
      nodes.push_back({Op::kSlice, {uint32_t(nodes.size())}, {},
                       {int64_t(1 + in.next(3)), int64_t(in.next(256)) - 128, int64_t(in.next(256)) - 128, int64_t(1 + in.next(8))}, {}});
    if (in.next(2))
      nodes.push_back({Op::kAdd, {in.next(uint32_t(nodes.size()) + 1), uint32_t(nodes.size())}, {}, {},
                       {float(int(in.next(256)) - 128) / 16.0f}});
  }
  if (nodes.empty()) nodes.push_back({Op::kRelu, {0}, {}, {}, {}});
  model.graph.output = uint32_t(nodes.size());
  const std::vector<uint8_t> bytes = dcomp::dcz::encode(model);
  const dcomp::dcz::Model back = dcomp::dcz::decode(bytes.data(), bytes.size());
  if (back.metadata != model.metadata || back.tensors.size() != model.tensors.size()) std::abort();
  for (size_t i = 0; i < model.tensors.size(); ++i) {
    const auto &a = model.tensors[i], &b = back.tensors[i];
    if (a.name != b.name || a.shape != b.shape || a.storage != b.storage || a.floats != b.floats ||
        a.integers != b.integers || a.coder != b.coder || a.shared.bits != b.shared.bits ||
        a.shared.codebook != b.shared.codebook ||
        a.shared.positions != b.shared.positions || a.shared.indices != b.shared.indices)
      std::abort();
  }
  if (back.graph.output != model.graph.output || back.graph.nodes.size() != nodes.size()) std::abort();
  for (size_t i = 0; i < nodes.size(); ++i) {
    const auto &a = nodes[i], &b = back.graph.nodes[i];
    if (a.op != b.op || a.inputs != b.inputs || a.tensors != b.tensors || a.ints != b.ints || a.floats != b.floats)
      std::abort();
  }
  return 0;
}
