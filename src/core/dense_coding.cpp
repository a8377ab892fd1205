#include "core/dense_coding.h"

#include <cmath>
#include <map>
#include <utility>

#include "core/binary_arithmetic_coder.h"
#include "core/bit_stream.h"

namespace dcomp::dense {

namespace {

// The byte trees, made on first use: one per (width, byte place, role).
class Trees {
 public:
  explicit Trees(adaptive::Rates rates) : rates_(rates) {}
  AdaptiveBitModel* tree(int width, int place, const std::string& role) {
    std::vector<AdaptiveBitModel>& t = trees_[{width * 8 + place, role}];
    if (t.empty()) t.assign(256, AdaptiveBitModel(rates_.fast, rates_.slow));
    return t.data();
  }

 private:
  adaptive::Rates rates_;
  std::map<std::pair<int, std::string>, std::vector<AdaptiveBitModel>> trees_;
};

// Hands every bit of every value, in coding order, to code(bit, model).
template <class Code>
void scan(const std::vector<Values>& tensors, Trees& trees, Code code) {
  for (const Values& v : tensors)
    for (size_t at = 0; at + size_t(v.width) <= v.bytes.size(); at += size_t(v.width))
      for (int place = v.width - 1; place >= 0; --place) {  // most significant byte first
        AdaptiveBitModel* node = trees.tree(v.width, place, v.role);
        const uint32_t byte = v.bytes[at + size_t(place)];
        uint32_t n = 1;
        for (int b = 7; b >= 0; --b) {
          const int bit = int(byte >> b) & 1;
          code(bit, node[n]);
          n = n * 2 + uint32_t(bit);
        }
      }
}

}  // namespace

std::string role(const std::string& tensor_name) {
  const size_t dot = tensor_name.rfind('.');
  return dot == std::string::npos ? tensor_name : tensor_name.substr(dot + 1);
}

Encoded encode(const std::vector<Values>& tensors) {
  Encoded out;
  double best = INFINITY;
  for (const adaptive::Rates& r : adaptive::kCandidateRates) {
    Trees trees(r);
    double bits = 0;
    scan(tensors, trees, [&](int bit, AdaptiveBitModel& m) {
      bits += m.cost_bits(bit);
      m.update(bit);
    });
    if (bits < best) best = bits, out.rates = r;
  }
  Trees trees(out.rates);
  BinaryArithmeticEncoder coder;
  scan(tensors, trees, [&](int bit, AdaptiveBitModel& m) {
    out.model_bits += m.cost_bits(bit);
    coder.encode(bit, m);
  });
  out.bytes = coder.finish();
  return out;
}

void decode(const uint8_t* data, size_t size, adaptive::Rates rates, std::vector<Values>& tensors) {
  if (!rates.valid()) throw FormatError("dense stream: adaptation rates outside [4, 15]");
  Trees trees(rates);
  BinaryArithmeticDecoder coder(data, size);
  for (Values& v : tensors) {
    for (size_t at = 0; at + size_t(v.width) <= v.bytes.size(); at += size_t(v.width))
      for (int place = v.width - 1; place >= 0; --place) {
        AdaptiveBitModel* node = trees.tree(v.width, place, v.role);
        uint32_t n = 1;
        while (n < 256) n = n * 2 + uint32_t(coder.decode(node[n]));
        v.bytes[at + size_t(place)] = uint8_t(n - 256);
      }
    if (coder.overran()) throw FormatError("dense stream runs past its bytes (truncated?)");
  }
  if (!coder.consumed_exactly()) throw FormatError("dense stream not consumed exactly (truncated or corrupt?)");
}

}  // namespace dcomp::dense
