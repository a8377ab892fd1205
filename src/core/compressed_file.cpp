#include "core/compressed_file.h"

#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <stdexcept>

#include "core/adaptive_coding.h"
#include "core/atomic_file.h"
#include "core/binary_arithmetic_coder.h"
#include "core/byte_io.h"
#include "core/dense_coding.h"
#include "core/float16.h"
#include "core/gap_coding.h"
#include "core/huffman.h"

namespace dcomp::dcz {

namespace {

// Caps on counts read from a file, checked before anything is allocated.
constexpr uint32_t kMaxNameBytes = 1024;        // tensor names and metadata keys
constexpr uint32_t kMaxValueBytes = 1 << 20;    // metadata values
constexpr uint32_t kMaxMetadata = 4096;         // metadata pairs
constexpr uint32_t kMaxTensors = 1 << 16;       // tensors in a file
constexpr int kMaxRank = 8;
constexpr int kCodeLengthBits = 5;              // a stored code length is 0..kMaxCodeLength
constexpr size_t kChecksumBytes = 4;
constexpr uint8_t kInDenseStream = 0x80;        // storage flag: the values are in the dense stream
// A dense stream decodes to at most about 600 bytes per byte (adaptive::Rates);
// more is a hostile length, refused before anything is allocated.
constexpr uint64_t kMaxDenseExpansion = 1024;
constexpr uint32_t kMaxNodes = 1 << 16;         // graph operations
constexpr uint32_t kMaxNodeItems = 1 << 16;     // inputs, tensors or attributes of one operation

// Storages whose values are stored one by one (raw or in the dense stream).
bool stored_by_value(Storage storage) {
  return storage == Storage::kFloat32 || storage == Storage::kFloat16 || storage == Storage::kInt64;
}

uint64_t value_bytes(Storage storage) {
  return storage == Storage::kFloat16 ? 2 : storage == Storage::kFloat32 ? 4 : 8;
}

uint32_t crc32_of(const uint8_t* data, size_t size) {
  return uint32_t(crc32(crc32(0L, Z_NULL, 0), data, uInt(size)));
}

double entropy_bits(const std::vector<uint64_t>& frequencies) {
  uint64_t n = 0;
  for (uint64_t f : frequencies) n += f;
  double bits = 0;  // sum_s f_s * log2(n / f_s)
  for (uint64_t f : frequencies)
    if (f > 0) bits += double(f) * std::log2(double(n) / double(f));
  return bits;
}

// Code lengths: a u16 count (the alphabet up to its last used symbol), then
// the lengths packed in 5 bits each, MSB first.
void write_code_lengths(ByteWriter& out, std::vector<uint8_t> lengths) {
  while (!lengths.empty() && lengths.back() == 0) lengths.pop_back();
  out.u16(uint16_t(lengths.size()));
  BitWriter bits;
  for (uint8_t l : lengths) bits.write(l, kCodeLengthBits);
  const std::vector<uint8_t> packed = bits.finish();
  out.bytes(packed.data(), packed.size());
}

uint64_t code_lengths_bytes(const std::vector<uint8_t>& lengths) {
  size_t used = lengths.size();
  while (used > 0 && lengths[used - 1] == 0) --used;
  return 2 + (used * kCodeLengthBits + 7) / 8;
}

// The bits after a stream's last one, up to its byte's end, are zero: every
// content has one encoding.
void check_padding(const uint8_t* data, uint64_t bits, const std::string& what) {
  if (bits % 8 != 0 && (data[bits / 8] & (0xFFu >> (bits % 8))) != 0)
    throw FormatError(what + " padding bits are not zero");
}

// A code-length table over an alphabet of `alphabet` symbols; `what` names
// the code ("tensor 'w': index code").
std::vector<uint8_t> read_code_lengths(ByteReader& in, size_t alphabet, const std::string& what) {
  const uint16_t count = in.u16();
  if (count > alphabet) throw FormatError(what + " lists more symbols than its alphabet");
  const uint64_t bytes = (uint64_t(count) * kCodeLengthBits + 7) / 8;
  const uint8_t* data = in.take(bytes);
  BitReader bits(data, size_t(bytes), uint64_t(count) * kCodeLengthBits);
  std::vector<uint8_t> lengths(count);
  for (uint8_t& l : lengths) {
    l = uint8_t(bits.read(kCodeLengthBits));
    if (l > kMaxCodeLength) throw FormatError(what + ": a length above " + std::to_string(kMaxCodeLength));
  }
  if (count > 0 && lengths.back() == 0) throw FormatError(what + " ends in symbols without a code");
  check_padding(data, uint64_t(count) * kCodeLengthBits, what + " table's");
  return lengths;
}

// The lengths form a complete prefix code (or one symbol of length 1).
void check_code(const std::vector<uint8_t>& lengths, const std::string& what) {
  try {
    huffman::canonical_codes(lengths);
  } catch (const FormatError& error) {
    throw FormatError(what + ": " + error.what());
  }
}

void huffman_stream(const std::vector<uint8_t>& lengths, const std::vector<uint32_t>& symbols,
                    std::vector<uint8_t>& bytes, uint64_t& bit_count) {
  if (symbols.empty()) return;
  const huffman::Encoder encoder(lengths);
  BitWriter out;
  for (uint32_t s : symbols) encoder.encode(s, out);
  bit_count = out.bit_count();
  bytes = out.finish();
}

// ---- encoding ----

void validate(const Tensor& t) {
  const std::string where = "tensor '" + t.name + "': ";
  if (t.name.empty() || t.name.size() > kMaxNameBytes) throw std::invalid_argument(where + "bad name length");
  if (!is_utf8(reinterpret_cast<const uint8_t*>(t.name.data()), t.name.size()))
    throw std::invalid_argument(where + "name is not UTF-8");
  if (t.shape.size() > size_t(kMaxRank)) throw std::invalid_argument(where + "rank above 8");
  for (int64_t d : t.shape)
    if (d < 0) throw std::invalid_argument(where + "negative dimension");
  const uint64_t n = t.numel();
  if (n > kMaxElements) throw std::invalid_argument(where + "too many elements");
  if (holds_floats(t.storage) && t.floats.size() != n) throw std::invalid_argument(where + "value count != shape");
  if (t.storage == Storage::kConstant && !one_bit_pattern(t.floats))
    throw std::invalid_argument(where + "a constant tensor's values differ");
  if (t.storage == Storage::kInt64 && t.integers.size() != n) throw std::invalid_argument(where + "value count != shape");
  if (t.coder != Coder::kHuffman && t.coder != Coder::kAdaptive) throw std::invalid_argument(where + "unknown coder");
  if (t.storage != Storage::kShared) return;
  const SharedTensor& s = t.shared;
  if (s.bits < 1 || s.bits > 8) throw std::invalid_argument(where + "bits must be in [1, 8]");
  if (s.codebook.empty() || s.codebook.size() > (size_t{1} << s.bits))
    throw std::invalid_argument(where + "codebook size must be in [1, 2^bits]");
  for (float c : s.codebook)
    if (!std::isfinite(c)) throw std::invalid_argument(where + "codebook value not finite");
  if (s.indices.size() != s.positions.size()) throw std::invalid_argument(where + "indices and positions differ in count");
  for (size_t i = 0; i < s.positions.size(); ++i) {
    if (s.positions[i] >= n || (i > 0 && s.positions[i] <= s.positions[i - 1]))
      throw std::invalid_argument(where + "positions must be ascending and inside the tensor");
    if (s.indices[i] >= s.codebook.size()) throw std::invalid_argument(where + "index outside the codebook");
  }
}

struct SharedPlan {
  uint64_t filler_scheme_bits = 0;
  adaptive::Encoded adaptive;  // Coder::kAdaptive
  std::vector<uint8_t> index_lengths, gap_lengths;
  int gap_bits = 1;
  std::vector<uint8_t> index_bytes, gap_bytes;
  uint64_t index_bits = 0, gap_stream_bits = 0;
  double index_entropy = 0, gap_entropy = 0;
};

adaptive::Tensor adaptive_view(const Tensor& t) {
  return {t.numel(), adaptive::kernel_size(t.shape), t.shared.bits, t.shared.codebook, {}, {}};
}

SharedPlan plan_shared(const Tensor& t) {
  const SharedTensor& s = t.shared;
  SharedPlan plan;
  std::vector<uint64_t> index_frequencies(s.codebook.size(), 0);
  for (uint8_t i : s.indices) ++index_frequencies[i];
  const auto table_bits = [](const std::vector<uint8_t>& lengths) { return 8 * code_lengths_bytes(lengths); };
  plan.filler_scheme_bits = gaps::filler_scheme_bits(s.positions, index_frequencies, kMaxCodeLength, table_bits);
  if (t.coder == Coder::kAdaptive) {
    adaptive::Tensor view = adaptive_view(t);
    view.positions = s.positions;
    view.indices = s.indices;
    plan.adaptive = adaptive::encode(view);
    return plan;
  }
  plan.index_lengths = huffman::code_lengths(index_frequencies, kMaxCodeLength);
  plan.index_entropy = entropy_bits(index_frequencies);
  huffman_stream(plan.index_lengths, std::vector<uint32_t>(s.indices.begin(), s.indices.end()), plan.index_bytes,
                 plan.index_bits);

  // The gap alphabet that minimizes stream plus code-length table.
  uint64_t best_cost = UINT64_MAX;
  for (int b = 1; b <= gaps::kMaxBits; ++b) {
    const std::vector<uint64_t> f = gaps::frequencies(s.positions, b);
    std::vector<uint8_t> lengths = huffman::code_lengths(f, kMaxCodeLength);
    const uint64_t cost = huffman::encoded_bits(f, lengths) + table_bits(lengths);
    if (cost < best_cost) {
      best_cost = cost;
      plan.gap_bits = b;
      plan.gap_lengths = std::move(lengths);
      plan.gap_entropy = entropy_bits(f);
    }
  }
  huffman_stream(plan.gap_lengths, gaps::symbols(s.positions, plan.gap_bits), plan.gap_bytes, plan.gap_stream_bits);
  return plan;
}

// The graph's own checks, and every float and shared tensor feeding an
// operation: a weight no operation reads means the graph and the tensors
// disagree.
void check_graph(const Graph& graph, const std::vector<const Tensor*>& tensors) {
  std::vector<std::string> names;
  for (const Tensor* t : tensors) names.push_back(t->name);
  validate(graph, names);
  std::set<std::string> read;
  for (const Node& n : graph.nodes) read.insert(n.tensors.begin(), n.tensors.end());
  for (const Tensor* t : tensors)
    if (t->storage != Storage::kInt64 && !read.count(t->name))
      throw std::invalid_argument("tensor '" + t->name + "' is read by no operation of the graph");
}

// The graph section: node count, then per node its operation, inputs
// (values), tensors (indices into the tensor table), ints (zigzag varints)
// and floats; then the output value.
void write_graph(ByteWriter& out, const Graph& graph, const std::vector<Tensor>& tensors) {
  std::map<std::string, uint64_t> index;
  for (size_t i = 0; i < tensors.size(); ++i) index[tensors[i].name] = i;
  out.varint(graph.nodes.size());
  for (const Node& n : graph.nodes) {
    out.u8(uint8_t(n.op));
    out.varint(n.inputs.size());
    for (uint32_t v : n.inputs) out.varint(v);
    out.varint(n.tensors.size());
    for (const std::string& t : n.tensors) out.varint(index.at(t));
    out.varint(n.ints.size());
    for (int64_t v : n.ints) out.varint(uint64_t(v) << 1 ^ uint64_t(v >> 63));
    out.varint(n.floats.size());
    for (float v : n.floats) out.f32(v);
  }
  out.varint(graph.output);
}

uint32_t read_count(ByteReader& in, uint32_t limit, const char* what) {
  const uint64_t n = in.varint();
  if (n > limit) throw FormatError(std::string("graph: too many ") + what);
  return uint32_t(n);
}

Graph read_graph(ByteReader& in, const std::vector<const Tensor*>& tensors) {
  Graph g;
  const uint32_t count = read_count(in, kMaxNodes, "operations");
  for (uint32_t k = 0; k < count; ++k) {
    Node n;
    n.op = Op(in.u8());
    for (uint32_t i = read_count(in, kMaxNodeItems, "inputs"); i > 0; --i) {
      const uint64_t v = in.varint();
      if (v > k) throw FormatError("graph node " + std::to_string(k) + ": reads value " + std::to_string(v) + " before it is written");
      n.inputs.push_back(uint32_t(v));
    }
    for (uint32_t i = read_count(in, kMaxNodeItems, "tensors"); i > 0; --i) {
      const uint64_t t = in.varint();
      if (t >= tensors.size()) throw FormatError("graph node " + std::to_string(k) + ": tensor index beyond the table");
      n.tensors.push_back(tensors[size_t(t)]->name);
    }
    for (uint32_t i = read_count(in, kMaxNodeItems, "attributes"); i > 0; --i) {
      const uint64_t z = in.varint();
      n.ints.push_back(int64_t(z >> 1) ^ -int64_t(z & 1));
    }
    for (uint32_t i = read_count(in, kMaxNodeItems, "attributes"); i > 0; --i) n.floats.push_back(in.f32());
    g.nodes.push_back(std::move(n));
  }
  g.output = uint32_t(std::min<uint64_t>(in.varint(), UINT32_MAX));
  return g;
}

// ---- decoding ----

struct Entry {  // a parsed table entry, before its payload is read
  Tensor tensor;
  uint64_t nonzeros = 0;
  adaptive::Parameters adaptive;  // Coder::kAdaptive
  uint64_t stream_bytes = 0;      // Coder::kAdaptive
  std::vector<uint8_t> index_lengths, gap_lengths;
  int gap_bits = 0;
  uint64_t index_bits = 0, gap_stream_bits = 0;
};

// `constant_elements` counts the elements of the kConstant tensors read so
// far, which this entry's, if constant, must keep within kMaxConstantElements.
Entry read_entry(ByteReader& in, const std::string& previous_name, uint32_t version, uint64_t& constant_elements) {
  Entry e;
  Tensor& t = e.tensor;
  const uint64_t shared = in.varint();
  if (shared > previous_name.size()) throw FormatError("tensor name shares more than the previous name");
  t.name = previous_name.substr(0, size_t(shared)) + in.string(kMaxNameBytes);
  if (t.name.empty() || t.name.size() > kMaxNameBytes) throw FormatError("tensor name empty or too long");
  const std::string where = "tensor '" + t.name + "': ";
  const uint8_t storage = in.u8();
  const uint8_t kind = storage & uint8_t(~kInDenseStream);
  const uint8_t last_kind = uint8_t(version >= 2 ? Storage::kConstant : Storage::kFloat16);
  if (kind > last_kind) throw FormatError(where + "unknown storage type " + std::to_string(storage));
  t.storage = Storage(kind);
  if (storage & kInDenseStream) {
    if (version < 2 || !stored_by_value(t.storage)) throw FormatError(where + "unknown storage type " + std::to_string(storage));
    t.coder = Coder::kAdaptive;
  }
  const uint8_t rank = in.u8();
  if (rank > kMaxRank) throw FormatError(where + "rank " + std::to_string(rank) + " above 8");
  uint64_t numel = 1;
  for (int i = 0; i < rank; ++i) {
    const uint64_t d = in.varint();
    if (d > kMaxElements || (d > 0 && numel > kMaxElements / d)) throw FormatError(where + "shape too large");
    numel *= d;
    t.shape.push_back(int64_t(d));
  }
  if (t.storage == Storage::kConstant) {
    const float value = in.f32();
    constant_elements += numel;
    if (constant_elements > kMaxConstantElements)
      throw FormatError(where + "constant tensors of more than 2^20 elements in all");
    t.floats.assign(size_t(numel), value);
  }
  if (t.storage != Storage::kShared) return e;

  SharedTensor& s = t.shared;
  if (version >= 2) {
    const uint8_t coder = in.u8();
    if (coder > uint8_t(Coder::kAdaptive)) throw FormatError(where + "unknown coder " + std::to_string(coder));
    t.coder = Coder(coder);
  }
  s.bits = in.u8();
  if (s.bits < 1 || s.bits > 8) throw FormatError(where + "index bits " + std::to_string(s.bits) + " outside [1, 8]");
  const uint16_t codebook_size = in.u16();
  if (codebook_size == 0 || codebook_size > (1u << s.bits)) throw FormatError(where + "codebook size outside [1, 2^bits]");
  for (int i = 0; i < codebook_size; ++i) {
    s.codebook.push_back(in.f32());
    if (!std::isfinite(s.codebook.back())) throw FormatError(where + "codebook value not finite");
  }
  e.nonzeros = in.varint();
  if (e.nonzeros > numel) throw FormatError(where + "more nonzeros than elements");
  if (t.coder == Coder::kAdaptive) {
    adaptive::Parameters& p = e.adaptive;
    p.initial_p0 = in.u16();
    if (p.initial_p0 == 0 || p.initial_p0 >= AdaptiveBitModel::kOne)
      throw FormatError(where + "initial probability outside (0, 1)");
    p.significance = adaptive::Rates::from_byte(in.u8());
    p.index = adaptive::Rates::from_byte(in.u8());
    if (!p.significance.valid() || !p.index.valid()) throw FormatError(where + "adaptation rates outside [4, 15]");
    e.stream_bytes = in.varint();
    return e;
  }
  e.index_lengths = read_code_lengths(in, codebook_size, where + "index code");
  e.gap_bits = in.u8();
  if (e.gap_bits < 1 || e.gap_bits > gaps::kMaxBits) throw FormatError(where + "gap bits outside [1, 12]");
  e.gap_lengths = read_code_lengths(in, size_t{1} << e.gap_bits, where + "position code");
  e.index_bits = in.varint();
  e.gap_stream_bits = in.varint();
  if (e.nonzeros == 0) {
    if (!e.index_lengths.empty() || !e.gap_lengths.empty() || e.index_bits != 0 || e.gap_stream_bits != 0)
      throw FormatError(where + "codes or streams without nonzeros");
    return e;
  }
  check_code(e.index_lengths, where + "index code");
  check_code(e.gap_lengths, where + "position code");
  // Every symbol takes at least one bit: this bounds the decoded arrays by the file's size.
  if (e.nonzeros > e.index_bits || e.nonzeros > e.gap_stream_bits)
    throw FormatError(where + "streams too short for the nonzero count");
  return e;
}

const uint8_t* take_stream(ByteReader& in, uint64_t bits, const std::string& where) {
  if (bits > uint64_t(in.remaining()) * 8) throw FormatError(where + "stream runs past the payload (truncated?)");
  return in.take((bits + 7) / 8);
}

void read_adaptive_payload(ByteReader& in, Entry& e) {
  const std::string where = "tensor '" + e.tensor.name + "': ";
  if (e.stream_bytes > in.remaining()) throw FormatError(where + "stream runs past the payload (truncated?)");
  const uint8_t* data = in.take(size_t(e.stream_bytes));
  adaptive::Tensor view = adaptive_view(e.tensor);
  try {
    adaptive::decode(data, size_t(e.stream_bytes), e.adaptive, e.nonzeros, view);
  } catch (const FormatError& error) {
    throw FormatError(where + error.what());
  }
  e.tensor.shared.positions = std::move(view.positions);
  e.tensor.shared.indices = std::move(view.indices);
}

// The two Huffman streams into positions and indices (messages without the
// tensor's name: the caller adds it).
void decode_huffman_streams(Entry& e, const uint8_t* index_data, const uint8_t* gap_data) {
  SharedTensor& s = e.tensor.shared;
  const huffman::Decoder index_decoder(e.index_lengths);
  const huffman::Decoder gap_decoder(e.gap_lengths);
  BitReader index_bits(index_data, size_t((e.index_bits + 7) / 8), e.index_bits);
  BitReader gap_bits(gap_data, size_t((e.gap_stream_bits + 7) / 8), e.gap_stream_bits);

  const uint64_t numel = e.tensor.numel();
  const uint32_t escape = gaps::escape(e.gap_bits);
  s.positions.resize(size_t(e.nonzeros));
  s.indices.resize(size_t(e.nonzeros));
  uint64_t next = 0;  // the first position the next nonzero may take
  for (uint64_t i = 0; i < e.nonzeros; ++i) {
    uint32_t symbol;
    while ((symbol = gap_decoder.decode(gap_bits)) == escape) {
      next += escape;
      if (next >= numel) throw FormatError("position beyond the tensor");
    }
    next += symbol;
    if (next >= numel) throw FormatError("position beyond the tensor");
    s.positions[size_t(i)] = uint32_t(next++);
    const uint32_t index = index_decoder.decode(index_bits);
    if (index >= s.codebook.size()) throw FormatError("index outside the codebook");
    s.indices[size_t(i)] = uint8_t(index);
  }
  if (index_bits.remaining() != 0 || gap_bits.remaining() != 0) throw FormatError("stream not consumed exactly");
  check_padding(index_data, e.index_bits, "index stream's");
  check_padding(gap_data, e.gap_stream_bits, "position stream's");
}

void read_shared_payload(ByteReader& in, Entry& e) {
  if (e.tensor.coder == Coder::kAdaptive) return read_adaptive_payload(in, e);
  if (e.nonzeros == 0) return;
  const std::string where = "tensor '" + e.tensor.name + "': ";
  const uint8_t* index_data = take_stream(in, e.index_bits, where);
  const uint8_t* gap_data = take_stream(in, e.gap_stream_bits, where);
  try {
    decode_huffman_streams(e, index_data, gap_data);
  } catch (const FormatError& error) {
    throw FormatError(where + error.what());
  }
}

// t's values as stored: little-endian float32, float16 or int64.
void write_values(ByteWriter& out, const Tensor& t) {
  if (t.storage == Storage::kFloat32) {
    for (float v : t.floats) out.f32(v);
  } else if (t.storage == Storage::kFloat16) {
    for (float v : t.floats) out.u16(float_to_half(v));
  } else {
    for (int64_t v : t.integers) out.u64(uint64_t(v));
  }
}

// t's values from its stored bytes, t.numel() * value_bytes(t.storage) of them.
void parse_values(const uint8_t* bytes, Tensor& t) {
  const uint64_t n = t.numel();
  ByteReader values(bytes, size_t(n * value_bytes(t.storage)));
  if (t.storage == Storage::kFloat32) {
    t.floats.resize(size_t(n));
    for (float& v : t.floats) v = values.f32();
  } else if (t.storage == Storage::kFloat16) {
    t.floats.resize(size_t(n));
    for (float& v : t.floats) v = half_to_float(values.u16());
  } else {
    t.integers.resize(size_t(n));
    for (int64_t& v : t.integers) v = int64_t(values.u64());
  }
}

void read_dense_payload(ByteReader& in, Tensor& t) {
  const uint64_t bytes = t.numel() * value_bytes(t.storage);
  if (bytes > in.remaining()) throw FormatError("tensor '" + t.name + "': values run past the payload (truncated?)");
  parse_values(in.take(bytes), t);
}

// The dense stream (rates, length, bytes) into the tensors whose values it holds.
void read_dense_stream(ByteReader& in, const std::vector<Tensor*>& tensors) {
  uint64_t total = 0;
  for (const Tensor* t : tensors) total += t->numel() * value_bytes(t->storage);
  const adaptive::Rates rates = adaptive::Rates::from_byte(in.u8());
  const uint64_t stream_bytes = in.varint();
  if (stream_bytes > in.remaining()) throw FormatError("dense stream runs past the file (truncated?)");
  if (total > kMaxDenseExpansion * stream_bytes + (1 << 16))
    throw FormatError("dense stream too short for the values it holds");
  const uint8_t* data = in.take(size_t(stream_bytes));
  std::vector<dense::Values> values;  // each tensor's role, width and bytes to fill
  for (const Tensor* t : tensors)
    values.push_back({dense::role(t->name), int(value_bytes(t->storage)),
                      std::vector<uint8_t>(size_t(t->numel() * value_bytes(t->storage)))});
  dense::decode(data, size_t(stream_bytes), rates, values);
  for (size_t i = 0; i < tensors.size(); ++i) parse_values(values[i].bytes.data(), *tensors[i]);
}

}  // namespace

bool one_bit_pattern(const std::vector<float>& values) {
  return std::all_of(values.begin(), values.end(),
                     [&values](const float& v) { return std::memcmp(&v, values.data(), 4) == 0; });
}

uint64_t Tensor::numel() const {
  uint64_t n = 1;
  for (int64_t d : shape) n *= uint64_t(d);
  return n;
}

const std::string* Model::find(const std::string& key) const {
  for (const auto& [k, v] : metadata)
    if (k == key) return &v;
  return nullptr;
}

std::vector<uint8_t> encode(const Model& model, Layout* layout) {
  std::set<std::string> names;
  for (const Tensor& t : model.tensors) {
    validate(t);
    if (!names.insert(t.name).second) throw std::invalid_argument("duplicate tensor name '" + t.name + "'");
  }
  if (model.tensors.size() > kMaxTensors || model.metadata.size() > kMaxMetadata)
    throw std::invalid_argument("too many tensors or metadata entries");
  uint64_t constant_elements = 0;
  for (const Tensor& t : model.tensors)
    if (t.storage == Storage::kConstant) constant_elements += t.numel();
  if (constant_elements > kMaxConstantElements)
    throw std::invalid_argument("constant tensors of more than 2^20 elements in all");
  std::vector<const Tensor*> table;
  for (const Tensor& t : model.tensors) table.push_back(&t);
  check_graph(model.graph, table);

  ByteWriter out;
  out.bytes(reinterpret_cast<const uint8_t*>(kMagic), 4);
  out.u32(kVersion);
  out.u32(uint32_t(model.metadata.size()));
  out.u32(uint32_t(model.tensors.size()));
  std::set<std::string> keys;
  for (const auto& [key, value] : model.metadata) {
    if (key.size() > kMaxNameBytes || value.size() > kMaxValueBytes) throw std::invalid_argument("metadata too long");
    if (!keys.insert(key).second) throw std::invalid_argument("duplicate metadata key '" + key + "'");
    if (!is_utf8(reinterpret_cast<const uint8_t*>(key.data()), key.size()) ||
        !is_utf8(reinterpret_cast<const uint8_t*>(value.data()), value.size()))
      throw std::invalid_argument("metadata '" + key + "' is not UTF-8");
    out.string(key);
    out.string(value);
  }
  Layout l;
  l.header_bytes = out.size() + kChecksumBytes;

  std::vector<SharedPlan> plans(model.tensors.size());
  for (size_t i = 0; i < model.tensors.size(); ++i) {
    const Tensor& t = model.tensors[i];
    TensorLayout tl{t.name, t.storage, t.coder};
    const size_t start = out.size();
    // The name as the length of the prefix it shares with the previous
    // name, then the rest: "layer1.0.bn1.bias" after "layer1.0.bn1.weight"
    // costs 5 bytes.
    const std::string& previous = i > 0 ? model.tensors[i - 1].name : std::string();
    size_t shared = 0;
    while (shared < previous.size() && shared < t.name.size() && previous[shared] == t.name[shared]) ++shared;
    out.varint(shared);
    out.string(t.name.substr(shared));
    const bool in_dense_stream = stored_by_value(t.storage) && t.coder == Coder::kAdaptive;
    out.u8(uint8_t(t.storage) | (in_dense_stream ? kInDenseStream : 0));
    out.u8(uint8_t(t.shape.size()));
    for (int64_t d : t.shape) out.varint(uint64_t(d));
    if (t.storage == Storage::kConstant) out.f32(t.floats.empty() ? 0.0f : t.floats[0]);
    if (t.storage == Storage::kShared) {
      SharedPlan& p = plans[i] = plan_shared(t);
      tl.filler_scheme_bits = p.filler_scheme_bits;
      out.u8(uint8_t(t.coder));
      out.u8(uint8_t(t.shared.bits));
      out.u16(uint16_t(t.shared.codebook.size()));
      for (float c : t.shared.codebook) out.f32(c);
      out.varint(t.shared.positions.size());
      if (t.coder == Coder::kAdaptive) {
        const adaptive::Encoded& a = p.adaptive;
        out.u16(a.parameters.initial_p0);
        out.u8(a.parameters.significance.byte());
        out.u8(a.parameters.index.byte());
        out.varint(a.bytes.size());
        // The stream's bits, attributed to the parts by their model costs.
        const double model_bits = a.position_model_bits + a.index_model_bits;
        const uint64_t stream_bits = 8 * a.bytes.size();
        tl.position_bits = model_bits > 0
                               ? uint64_t(std::llround(double(stream_bits) * a.position_model_bits / model_bits))
                               : stream_bits;
        tl.index_bits = stream_bits - tl.position_bits;
        tl.position_entropy_bits = a.position_model_bits;
        tl.index_entropy_bits = a.index_model_bits;
      } else {
        write_code_lengths(out, p.index_lengths);
        out.u8(uint8_t(p.gap_bits));
        write_code_lengths(out, p.gap_lengths);
        out.varint(p.index_bits);
        out.varint(p.gap_stream_bits);
        tl.index_bits = p.index_bits;
        tl.position_bits = p.gap_stream_bits;
        tl.gap_bits = p.gap_bits;
        tl.index_entropy_bits = p.index_entropy;
        tl.position_entropy_bits = p.gap_entropy;
        tl.position_table_bits = 8 * code_lengths_bytes(p.gap_lengths);
      }
    } else if (stored_by_value(t.storage) && !in_dense_stream) {
      tl.dense_bytes = t.numel() * value_bytes(t.storage);
    }
    tl.table_bytes = out.size() - start;
    l.tensors.push_back(tl);
  }
  const size_t graph_start = out.size();
  write_graph(out, model.graph, model.tensors);
  l.graph_bytes = out.size() - graph_start;
  // The dense stream, when some dense tensor is coded: their values in
  // table order, as the bytes they would be stored as.
  std::vector<dense::Values> dense_values;
  for (const Tensor& t : model.tensors)
    if (stored_by_value(t.storage) && t.coder == Coder::kAdaptive) {
      ByteWriter values;
      write_values(values, t);
      dense_values.push_back({dense::role(t.name), int(value_bytes(t.storage)), std::move(values.buffer())});
    }
  if (!dense_values.empty()) {
    const size_t stream_start = out.size();
    const dense::Encoded stream = dense::encode(dense_values);
    out.u8(stream.rates.byte());
    out.varint(stream.bytes.size());
    out.bytes(stream.bytes.data(), stream.bytes.size());
    l.dense_stream_bytes = out.size() - stream_start;
    l.dense_stream_model_bits = stream.model_bits;
  }
  // The payload: each tensor's data in table order, byte-aligned, no gaps.
  for (size_t i = 0; i < model.tensors.size(); ++i) {
    const Tensor& t = model.tensors[i];
    if (stored_by_value(t.storage)) {
      if (t.coder == Coder::kHuffman) write_values(out, t);
    } else if (t.storage == Storage::kConstant) {
      continue;  // its value is in its entry
    } else if (t.coder == Coder::kAdaptive) {
      out.bytes(plans[i].adaptive.bytes.data(), plans[i].adaptive.bytes.size());
    } else {
      out.bytes(plans[i].index_bytes.data(), plans[i].index_bytes.size());
      out.bytes(plans[i].gap_bytes.data(), plans[i].gap_bytes.size());
    }
  }
  out.u32(crc32_of(out.buffer().data(), out.size()));
  l.file_bytes = out.size();
  if (layout) *layout = std::move(l);
  return std::move(out.buffer());
}

Model decode(const uint8_t* data, size_t size) {
  constexpr size_t kHeaderBytes = 16;
  if (size < kHeaderBytes + kChecksumBytes) throw FormatError("too short to be a dcomp compressed file");
  if (!std::equal(kMagic, kMagic + 4, data)) throw FormatError("not a dcomp compressed file (bad magic)");
  ByteReader in(data, size - kChecksumBytes);
  in.take(4);
  const uint32_t version = in.u32();
  if (version < 1 || version > kVersion)
    throw FormatError("unsupported format version " + std::to_string(version) + " (this dcomp reads 1 to " +
                      std::to_string(kVersion) + ")");
#ifndef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION  // let fuzzers past the checksum, to the parser
  ByteReader checksum(data + size - kChecksumBytes, kChecksumBytes);
  if (checksum.u32() != crc32_of(data, size - kChecksumBytes)) throw FormatError("checksum mismatch (file truncated or corrupted)");
#endif

  const uint32_t metadata_count = in.u32();
  const uint32_t tensor_count = in.u32();
  if (metadata_count > kMaxMetadata) throw FormatError("too many metadata entries");
  if (tensor_count > kMaxTensors) throw FormatError("too many tensors");
  Model model;
  std::set<std::string> keys;
  for (uint32_t i = 0; i < metadata_count; ++i) {
    std::string key = in.string(kMaxNameBytes);
    if (!keys.insert(key).second) throw FormatError("duplicate metadata key '" + key + "'");
    model.metadata.emplace_back(std::move(key), in.string(kMaxValueBytes));
  }
  std::vector<Entry> entries;
  std::set<std::string> names;
  uint64_t constant_elements = 0;
  for (uint32_t i = 0; i < tensor_count; ++i) {
    entries.push_back(
        read_entry(in, entries.empty() ? std::string() : entries.back().tensor.name, version, constant_elements));
    if (!names.insert(entries.back().tensor.name).second)
      throw FormatError("duplicate tensor name '" + entries.back().tensor.name + "'");
  }
  if (version >= 2) {
    std::vector<const Tensor*> table;
    for (const Entry& e : entries) table.push_back(&e.tensor);
    model.graph = read_graph(in, table);
    try {
      check_graph(model.graph, table);
    } catch (const std::invalid_argument& e) {
      throw FormatError(e.what());
    }
  }
  std::vector<Tensor*> in_dense_stream;
  for (Entry& e : entries)
    if (stored_by_value(e.tensor.storage) && e.tensor.coder == Coder::kAdaptive) in_dense_stream.push_back(&e.tensor);
  if (!in_dense_stream.empty()) read_dense_stream(in, in_dense_stream);
  for (Entry& e : entries) {
    if (e.tensor.storage == Storage::kShared)
      read_shared_payload(in, e);
    else if (stored_by_value(e.tensor.storage) && e.tensor.coder == Coder::kHuffman)
      read_dense_payload(in, e.tensor);
    model.tensors.push_back(std::move(e.tensor));
  }
  if (in.remaining() != 0) throw FormatError("unexpected bytes after the payload");
  return model;
}

void write(const std::string& path, const Model& model, Layout* layout) {
  const std::vector<uint8_t> bytes = encode(model, layout);
  write_file_atomic(path, std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

Model read(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) throw std::runtime_error("cannot open " + path);
  const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  if (file.bad()) throw std::runtime_error("cannot read " + path);
  try {
    return decode(bytes.data(), bytes.size());
  } catch (const FormatError& e) {
    throw FormatError(path + ": " + e.what());
  }
}

}  // namespace dcomp::dcz
