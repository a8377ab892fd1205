#include "core/huffman.h"

#include <algorithm>
#include <numeric>

namespace dcomp::huffman {

// Alphabets are codebook indices and position gaps: at most 2^16 symbols
// (the decoder's table stores symbols in 16 bits).
constexpr size_t kMaxSymbols = size_t{1} << 16;

std::vector<uint8_t> code_lengths(const std::vector<uint64_t>& frequencies, int max_length) {
  if (max_length < 1 || max_length > kMaxCodeLength)
    throw std::invalid_argument("code length limit must be in [1, " + std::to_string(kMaxCodeLength) + "]");
  if (frequencies.size() > kMaxSymbols) throw std::invalid_argument("alphabet too large");
  std::vector<uint8_t> lengths(frequencies.size(), 0);
  std::vector<uint32_t> used;
  for (uint32_t s = 0; s < frequencies.size(); ++s)
    if (frequencies[s] > 0) used.push_back(s);
  if (used.empty()) return lengths;
  if (used.size() == 1) {
    lengths[used[0]] = 1;
    return lengths;
  }
  if (used.size() > (size_t{1} << max_length))
    throw std::invalid_argument(std::to_string(used.size()) + " symbols do not fit codes of at most " +
                                std::to_string(max_length) + " bits");
  std::stable_sort(used.begin(), used.end(), [&](uint32_t a, uint32_t b) { return frequencies[a] < frequencies[b]; });

  // Package-merge. Nodes are leaves (one per used symbol) or packages of two
  // nodes. Each of max_length rounds merges the leaves with the packages
  // made by pairing the previous round's list; the first 2n - 2 items of
  // the last list are the coins to take, and a symbol's code length is how
  // many of them contain its leaf.
  struct Node {
    uint64_t weight;
    int32_t left, right;  // children, or -1 and the symbol's index in `used`
  };
  std::vector<Node> nodes;
  std::vector<int32_t> leaves;
  for (size_t i = 0; i < used.size(); ++i) {
    nodes.push_back({frequencies[used[i]], -1, int32_t(i)});
    leaves.push_back(int32_t(nodes.size() - 1));
  }
  std::vector<int32_t> list = leaves;
  for (int round = 1; round < max_length; ++round) {
    std::vector<int32_t> packages;
    for (size_t i = 0; i + 1 < list.size(); i += 2) {
      nodes.push_back({nodes[size_t(list[i])].weight + nodes[size_t(list[i + 1])].weight, list[i], list[i + 1]});
      packages.push_back(int32_t(nodes.size() - 1));
    }
    list.clear();
    std::merge(leaves.begin(), leaves.end(), packages.begin(), packages.end(), std::back_inserter(list),
               [&](int32_t a, int32_t b) { return nodes[size_t(a)].weight < nodes[size_t(b)].weight; });
  }
  std::vector<int32_t> stack(list.begin(), list.begin() + long(2 * used.size() - 2));
  while (!stack.empty()) {
    const Node& n = nodes[size_t(stack.back())];
    stack.pop_back();
    if (n.left < 0) {
      ++lengths[used[size_t(n.right)]];
    } else {
      stack.push_back(n.left);
      stack.push_back(n.right);
    }
  }
  return lengths;
}

std::vector<Code> canonical_codes(const std::vector<uint8_t>& lengths) {
  if (lengths.size() > kMaxSymbols) throw FormatError("Huffman alphabet too large");
  std::vector<uint32_t> order;
  uint64_t kraft = 0;  // sum of 2^(kMaxCodeLength - length): complete when 2^kMaxCodeLength
  for (uint32_t s = 0; s < lengths.size(); ++s) {
    if (lengths[s] == 0) continue;
    if (lengths[s] > kMaxCodeLength) throw FormatError("Huffman code length above the limit");
    kraft += uint64_t{1} << (kMaxCodeLength - lengths[s]);
    order.push_back(s);
  }
  const bool lone = order.size() == 1 && lengths[order[0]] == 1;
  if (!lone && kraft != (uint64_t{1} << kMaxCodeLength))
    throw FormatError(kraft > (uint64_t{1} << kMaxCodeLength) ? "Huffman code lengths oversubscribe the code space"
                                                              : "Huffman code lengths leave the code incomplete");
  std::stable_sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return lengths[a] < lengths[b]; });
  std::vector<Code> codes(lengths.size());
  uint32_t code = 0;
  uint8_t previous = order.empty() ? 0 : lengths[order[0]];
  for (uint32_t s : order) {
    code <<= (lengths[s] - previous);
    previous = lengths[s];
    codes[s] = {code++, lengths[s]};
  }
  return codes;
}

uint64_t encoded_bits(const std::vector<uint64_t>& frequencies, const std::vector<uint8_t>& lengths) {
  uint64_t bits = 0;
  for (size_t s = 0; s < frequencies.size() && s < lengths.size(); ++s) bits += frequencies[s] * lengths[s];
  return bits;
}

Decoder::Decoder(const std::vector<uint8_t>& lengths) {
  const std::vector<Code> codes = canonical_codes(lengths);
  for (const Code& c : codes) max_length_ = std::max<int>(max_length_, c.length);
  table_.assign(size_t{1} << max_length_, Entry{0, 0});
  for (uint32_t s = 0; s < codes.size(); ++s) {
    if (codes[s].length == 0) continue;
    // Every table index whose top bits are this code decodes to s.
    const int free_bits = max_length_ - codes[s].length;
    const size_t first = size_t(codes[s].bits) << free_bits;
    std::fill(table_.begin() + long(first), table_.begin() + long(first + (size_t{1} << free_bits)),
              Entry{uint16_t(s), codes[s].length});
  }
}

}  // namespace dcomp::huffman
