#include "core/adaptive_coding.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "core/bit_stream.h"

namespace dcomp::adaptive {

namespace {

constexpr int kIndexTrees = 3;  // the previous nonzero of the kernel: none, negative, positive

// The models of one tensor, and the context rules shared by both directions.
struct Models {
  AdaptiveBitModel significance[8];
  std::vector<AdaptiveBitModel> index;  // kIndexTrees trees of 2^bits nodes (node 0 unused)
  int bits;

  Models(int bits, const Parameters& p)
      : index(size_t(kIndexTrees) << bits, AdaptiveBitModel(p.index.fast, p.index.slow)), bits(bits) {
    for (AdaptiveBitModel& m : significance) m = AdaptiveBitModel(p.significance.fast, p.significance.slow, p.initial_p0);
  }
};

// Where the scan is, as the contexts see it; both directions move it alike.
struct Cursor {
  uint64_t j = 0;         // the element's place in its kernel
  uint32_t seen = 0;      // nonzeros before it in the kernel
  bool previous = false;  // whether the element before it (in any kernel) was nonzero
  int tree = 0;           // 0 before the kernel's first nonzero, then 1 + (previous value > 0)

  AdaptiveBitModel& significance(Models& m) const {
    const int kernel_state = j == 0 ? 0 : 1 + int(std::min<uint32_t>(seen, 2));
    return m.significance[kernel_state * 2 + previous];
  }
  AdaptiveBitModel* index_tree(Models& m) const { return &m.index[size_t(tree) << m.bits]; }
  void nonzero(float value) { tree = value > 0 ? 2 : 1, ++seen; }
  void advance(bool one, uint64_t kernel) {
    previous = one;
    if (++j == kernel) j = 0, seen = 0, tree = 0;
  }
};

// Walks t in coding order, handing each bit to code(bit, model, is_index).
template <class Code>
void scan(const Tensor& t, Models& models, Code code) {
  size_t next = 0;  // the next nonzero
  Cursor cursor;
  for (uint64_t e = 0; e < t.numel; ++e) {
    const bool one = next < t.positions.size() && t.positions[next] == e;
    code(one, cursor.significance(models), false);
    if (one) {
      const uint32_t index = t.indices[next++];
      AdaptiveBitModel* node = cursor.index_tree(models);
      uint32_t at = 1;  // the tree node: the bits so far, under a leading 1
      for (int b = t.bits - 1; b >= 0; --b) {
        const int bit = int(index >> b) & 1;
        code(bit, node[at], true);
        at = at * 2 + uint32_t(bit);
      }
      cursor.nonzero(t.codebook[index]);
    }
    cursor.advance(one, t.kernel);
  }
}

// The ideal code length of each part under parameters p.
std::pair<double, double> model_costs(const Tensor& t, const Parameters& p) {
  Models models(t.bits, p);
  double position = 0, index = 0;
  scan(t, models, [&](int bit, AdaptiveBitModel& m, bool is_index) {
    (is_index ? index : position) += m.cost_bits(bit);
    m.update(bit);
  });
  return {position, index};
}

}  // namespace

uint64_t kernel_size(const std::vector<int64_t>& shape) {
  uint64_t k = 1;
  for (size_t d = 2; d < shape.size(); ++d) k *= uint64_t(shape[d]);
  return std::max<uint64_t>(k, 1);
}

Encoded encode(const Tensor& t) {
  Encoded out;
  Parameters& p = out.parameters;
  // Start the significance models at the tensor's zero fraction.
  const double zeros = t.numel ? 1 - double(t.positions.size()) / double(t.numel) : 0.5;
  p.initial_p0 = uint16_t(std::clamp<long>(std::lround(zeros * AdaptiveBitModel::kOne), 1, AdaptiveBitModel::kOne - 1));
  // The two groups' models are disjoint: choose each one's rates alone.
  double best_position = INFINITY, best_index = INFINITY;
  for (const Rates& r : kCandidateRates) {
    const auto [position, index] = model_costs(t, {p.initial_p0, r, r});
    if (position < best_position) best_position = position, p.significance = r;
    if (index < best_index) best_index = index, p.index = r;
  }
  Models models(t.bits, p);
  BinaryArithmeticEncoder coder;
  scan(t, models, [&](int bit, AdaptiveBitModel& m, bool is_index) {
    (is_index ? out.index_model_bits : out.position_model_bits) += m.cost_bits(bit);
    coder.encode(bit, m);
  });
  out.bytes = coder.finish();
  return out;
}

void decode(const uint8_t* data, size_t size, const Parameters& parameters, uint64_t nonzeros, Tensor& t) {
  if (!parameters.significance.valid() || !parameters.index.valid())
    throw FormatError("adaptive stream: adaptation rates outside [4, 15]");
  Models models(t.bits, parameters);
  BinaryArithmeticDecoder coder(data, size);
  t.positions.clear();
  t.indices.clear();
  // Grown as decoded beyond 2^20: a hostile count alone allocates little.
  t.positions.reserve(size_t(std::min<uint64_t>(nonzeros, 1 << 20)));
  t.indices.reserve(size_t(std::min<uint64_t>(nonzeros, 1 << 20)));
  const uint32_t leaf = 1u << t.bits;
  Cursor cursor;
  for (uint64_t e = 0; e < t.numel; ++e) {
    const bool one = coder.decode(cursor.significance(models));
    if (one) {
      if (t.positions.size() == nonzeros) throw FormatError("adaptive stream: more nonzeros than the entry says");
      AdaptiveBitModel* node = cursor.index_tree(models);
      uint32_t at = 1;
      while (at < leaf) at = at * 2 + uint32_t(coder.decode(node[at]));
      const uint32_t index = at - leaf;
      if (index >= t.codebook.size()) throw FormatError("adaptive stream: index outside the codebook");
      t.positions.push_back(uint32_t(e));
      t.indices.push_back(uint8_t(index));
      cursor.nonzero(t.codebook[index]);
    }
    cursor.advance(one, t.kernel);
    // A stream read past its end decodes only what its zeros say: stop there.
    if ((e & 0xFFFF) == 0 && coder.overran()) throw FormatError("adaptive stream runs past its bytes (truncated?)");
  }
  if (t.positions.size() != nonzeros) throw FormatError("adaptive stream: fewer nonzeros than the entry says");
  if (!coder.consumed_exactly()) throw FormatError("adaptive stream not consumed exactly (truncated or corrupt?)");
}

}  // namespace dcomp::adaptive
