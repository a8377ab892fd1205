#include "conformance/vectors.h"

#include <zlib.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <stdexcept>

#include "core/atomic_file.h"
#include "core/bit_stream.h"
#include "core/byte_io.h"
#include "core/compressed_file.h"
#include "core/float16.h"
#include "core/npy.h"

namespace dcomp::conformance {

namespace fs = std::filesystem;

namespace {

void lengths_table(ByteWriter& out, const std::vector<uint8_t>& lengths, uint8_t padding) {
  out.u16(uint16_t(lengths.size()));
  BitWriter bits;
  for (uint8_t l : lengths) bits.write(l, 5);
  std::vector<uint8_t> packed = bits.finish();
  if (!packed.empty()) packed.back() |= padding;
  out.bytes(packed.data(), packed.size());
}

void finish(ByteWriter& out, const std::vector<uint8_t>& trailing, size_t drop) {
  out.bytes(trailing.data(), trailing.size());
  const std::vector<uint8_t>& b = out.buffer();
  out.u32(uint32_t(crc32(crc32(0L, Z_NULL, 0), b.data(), uInt(b.size()))));
  out.buffer().resize(out.size() - drop);
}

}  // namespace

std::vector<uint8_t> write(const TinyFile& f) {
  ByteWriter out;
  out.bytes(reinterpret_cast<const uint8_t*>(f.magic.data()), 4);
  out.u32(f.version);
  out.u32(uint32_t(f.metadata.size()));
  out.u32(1);
  for (const auto& [key, value] : f.metadata) out.string(key), out.string(value);
  out.varint(0);  // shares nothing with the (absent) previous name
  out.string(f.name);
  out.u8(f.storage);
  out.u8(uint8_t(f.dims.size()));
  for (uint64_t d : f.dims) out.varint(d);
  if (f.version >= 2) out.u8(f.coder);
  out.u8(f.bits);
  out.u16(uint16_t(f.codebook.size()));
  for (float c : f.codebook) out.f32(c);
  out.bytes(f.nonzeros.data(), f.nonzeros.size());
  lengths_table(out, f.index_lengths, f.length_padding);
  out.u8(f.gap_bits);
  lengths_table(out, f.position_lengths, 0);
  out.varint(f.index_stream_bits);
  out.varint(f.position_stream_bits);
  if (f.version >= 2) out.bytes(f.graph.data(), f.graph.size());
  out.bytes(f.index_stream.data(), f.index_stream.size());
  out.bytes(f.position_stream.data(), f.position_stream.size());
  finish(out, f.trailing, f.drop);
  return std::move(out.buffer());
}

namespace {

dcz::Tensor shared(const std::string& name, std::vector<int64_t> shape, int bits, std::vector<float> codebook,
                   std::vector<uint32_t> positions, std::vector<uint8_t> indices, dcz::Coder coder = dcz::Coder::kHuffman) {
  dcz::Tensor t;
  t.name = name, t.shape = std::move(shape), t.storage = dcz::Storage::kShared, t.coder = coder;
  t.shared = {bits, std::move(codebook), std::move(positions), std::move(indices)};
  return t;
}

dcz::Tensor floats(const std::string& name, std::vector<int64_t> shape, std::vector<float> values,
                   dcz::Storage storage = dcz::Storage::kFloat32, dcz::Coder coder = dcz::Coder::kHuffman) {
  dcz::Tensor t;
  t.name = name, t.shape = std::move(shape), t.storage = storage, t.coder = coder, t.floats = std::move(values);
  return t;
}

dcz::Tensor integers(const std::string& name, std::vector<int64_t> shape, std::vector<int64_t> values,
                     dcz::Coder coder = dcz::Coder::kHuffman) {
  dcz::Tensor t;
  t.name = name, t.shape = std::move(shape), t.storage = dcz::Storage::kInt64, t.coder = coder;
  t.integers = std::move(values);
  return t;
}

}  // namespace

Tensor values_of(const dcz::Tensor& t) {
  Tensor e{t.name, t.shape, {}, {}, t.storage == dcz::Storage::kInt64};
  if (e.is_integer) {
    e.integers = t.integers;
  } else if (t.storage == dcz::Storage::kShared) {
    e.floats.assign(size_t(t.numel()), 0.0f);
    for (size_t i = 0; i < t.shared.positions.size(); ++i)
      e.floats[t.shared.positions[i]] = t.shared.codebook[t.shared.indices[i]];
  } else {
    for (float v : t.floats) e.floats.push_back(t.storage == dcz::Storage::kFloat16 ? half_to_float(float_to_half(v)) : v);
  }
  return e;
}

namespace {

dcz::Node linear(uint32_t input, std::vector<std::string> tensors) {
  return {dcz::Op::kLinear, {input}, std::move(tensors), {}, {}};
}

Valid encoded(std::string name, std::string what, dcz::Model model, dcz::Layout* layout = nullptr) {
  Valid v{std::move(name), std::move(what), dcz::encode(model, layout), {}};
  for (const dcz::Tensor& t : model.tensors) v.tensors.push_back(values_of(t));
  return v;
}

void require(bool ok, const std::string& vector, const std::string& what) {
  if (!ok) throw std::logic_error("conformance vector " + vector + ": " + what);
}

// The tiny file as dcomp's encoder writes it, for the check that the
// field-by-field writer agrees.
dcz::Model tiny_model() {
  dcz::Model m;
  m.metadata = {{"input_shape", "3,1,1"}};
  m.tensors.push_back(shared("w", {2, 3}, 1, {-0.5f, 0.5f}, {0, 1, 3}, {1, 0, 1}));
  m.graph.nodes.push_back(linear(0, {"w"}));
  m.graph.output = 1;
  return m;
}

}  // namespace

std::vector<Valid> valid_vectors() {
  std::vector<Valid> out;
  {
    const std::vector<uint8_t> by_spec = write(TinyFile{});
    require(by_spec == dcz::encode(tiny_model()), "tiny", "the spec's bytes are not what dcomp writes");
    Valid v{"tiny", "the worked example of docs/format.md: a 2x3 shared weight, three nonzeros, 1-bit codebook, "
                    "two-symbol codes, gap_bits 2, a one-operation graph",
            by_spec, {values_of(tiny_model().tensors[0])}};
    out.push_back(v);
    TinyFile v1;
    v1.version = 1;
    out.push_back({"tiny_version1", "the same tensor in version 1: no coder byte, no graph",
                   write(v1), {values_of(tiny_model().tensors[0])}});
  }
  {
    dcz::Model m;
    m.tensors.push_back(shared("w", {4, 4}, 2, {0.25f}, {1, 5, 6, 15}, {0, 0, 0, 0}));
    m.graph.nodes.push_back(linear(0, {"w"}));
    m.graph.output = 1;
    out.push_back(encoded("single_symbol", "every nonzero takes codebook entry 0 of a 1-entry codebook: the index code "
                                           "has one symbol, of length 1 (code 0)", m));
  }
  {
    dcz::Model m;
    std::vector<uint32_t> positions;
    std::vector<uint8_t> indices;
    for (uint32_t p = 0; p < 12; ++p) positions.push_back(p), indices.push_back(uint8_t(p % 3));
    m.tensors.push_back(shared("w", {3, 4}, 2, {-1.0f, 0.5f, 2.0f}, positions, indices));
    m.graph.nodes.push_back(linear(0, {"w"}));
    m.graph.output = 1;
    dcz::Layout l;
    out.push_back(encoded("gap_bits_1_dense", "every element nonzero (nonzeros = numel): all gaps 0, gap_bits 1", m, &l));
    require(l.tensors[0].gap_bits == 1, "gap_bits_1_dense", "gap_bits is not 1");
  }
  {
    // The encoder never picks gap_bits 12 for a small tensor (its table costs
    // 2.5 KB), but a reader must take it: the tiny file's weight as 1x4100,
    // a gap of exactly E = 4095 (an escape, then 0) and one of 0.
    TinyFile g;
    g.dims = {1, 4100}, g.nonzeros = {2}, g.gap_bits = 12;
    g.position_lengths.assign(4096, 0);
    g.position_lengths[0] = g.position_lengths[4095] = 1;  // 0: code 0, escape: code 1
    g.index_stream = {0x80}, g.index_stream_bits = 2;        // indices 1, 0
    g.position_stream = {0x80}, g.position_stream_bits = 3;  // escape, 0, 0
    Tensor w{"w", {1, 4100}, std::vector<float>(4100, 0.0f), {}, false};
    w.floats[4095] = 0.5f, w.floats[4096] = -0.5f;
    out.push_back({"gap_bits_12", "gap_bits 12 (the largest), a 4096-symbol position alphabet, an escape followed by "
                                  "remainder 0",
                   write(g), {w}});
  }
  {
    // Mostly adjacent nonzeros (small gap_bits wins), with gaps of exactly E
    // and 2E + 1 for E = 2^gap_bits - 1 = 1 or 3.
    dcz::Model m;
    std::vector<uint32_t> positions;
    for (uint32_t p = 0; p < 40; ++p) positions.push_back(p);
    for (uint32_t p : {43u, 47u, 54u, 61u, 62u}) positions.push_back(p);
    std::vector<uint8_t> indices(positions.size(), 1);
    m.tensors.push_back(shared("w", {8, 8}, 1, {-0.75f, 0.75f}, positions, indices));
    m.graph.nodes.push_back(linear(0, {"w"}));
    m.graph.output = 1;
    dcz::Layout l;
    out.push_back(encoded("escapes", "gaps of 0, then 3, 3, 6, 6, 0: escape symbols (one or more before a gap's "
                                     "remainder, a remainder of 0 after an exact multiple of E)", m, &l));
    const uint32_t escape = (1u << l.tensors[0].gap_bits) - 1;
    require(escape <= 3, "escapes", "gap_bits above 2: no gap is a multiple of E");
  }
  {
    dcz::Model m;
    m.tensors.push_back(shared("fc.weight", {2, 3}, 3, {0.5f}, {}, {}));
    m.tensors.push_back(floats("fc.bias", {2}, {0.25f, -1.5f}));
    m.graph.nodes.push_back(linear(0, {"fc.weight", "fc.bias"}));
    m.graph.output = 1;
    out.push_back(encoded("all_zero", "a fully pruned weight: nonzeros 0, both codes empty (count 0), no streams; "
                                      "every element +0.0", m));
  }
  {
    dcz::Model m;
    std::vector<uint32_t> positions = {0, 2, 3, 7, 8};
    m.tensors.push_back(shared("w", {3, 3}, 3, {-2.0f, -0.5f, 0.0625f, 1.0f, 3.0f}, positions, {0, 3, 3, 0, 3}));
    m.graph.nodes.push_back(linear(0, {"w"}));
    m.graph.output = 1;
    out.push_back(encoded("unused_codebook_entries", "3 bits, a codebook of 5 (< 2^bits) of which entries 0 and 3 "
                                                     "are used: the index code lists 4 lengths, two of them 0", m));
  }
  {
    dcz::Model m;
    m.tensors.push_back(shared("w", {2, 6}, 1, {-1.0f, 1.0f}, {0, 11}, {0, 1}));
    const float subnormal = std::ldexp(1.0f, -24), third = 1.0f / 3.0f;
    m.tensors.push_back(floats("b", {2, 3}, {-0.0f, subnormal, 65504.0f, third, -2.5f, 1e-3f}, dcz::Storage::kFloat16));
    m.graph.nodes.push_back(linear(0, {"w", "b"}));
    m.graph.output = 1;
    out.push_back(encoded("float16", "float16 storage: -0.0, the smallest subnormal, the largest finite value, and "
                                     "values rounded to nearest even; read back widened to float32", m));
  }
  {
    dcz::Model m;
    m.tensors.push_back(shared("w", {2, 2}, 1, {-1.0f, 1.0f}, {1, 2}, {1, 0}));
    m.tensors.push_back(floats("b", {2}, {std::numeric_limits<float>::denorm_min(), -3.25f}));
    m.tensors.push_back(integers("num_batches_tracked", {}, {7}));
    m.tensors.push_back(integers("counts", {2, 0}, {}));
    m.tensors.push_back(integers("offsets", {3}, {-1, 0, int64_t(1) << 40}));
    m.graph.nodes.push_back(linear(0, {"w", "b"}));
    m.graph.output = 1;
    out.push_back(encoded("float32_int64", "float32 (a subnormal), int64 of rank 0 (one element), of a zero-size "
                                           "shape (none), and negative and large; int64 tensors read by no operation",
                          m));
  }
  {
    // A small CNN: conv -> bn -> relu -> add(alpha) -> max pool -> slice -> pad -> global pool -> flatten -> linear.
    dcz::Model m;
    m.metadata = {{"model", "conformance"}, {"input_shape", "2,4,4"}};
    m.tensors.push_back(shared("conv.weight", {3, 2, 3, 3}, 2, {-0.5f, -0.25f, 0.25f, 0.5f},
                               {0, 4, 9, 13, 17, 22, 30, 31, 40, 44, 53}, {0, 1, 2, 3, 3, 2, 1, 0, 0, 3, 1}));
    m.tensors.push_back(floats("bn.weight", {3}, {1.0f, 0.5f, 2.0f}));
    m.tensors.push_back(floats("bn.bias", {3}, {0.0f, 0.1f, -0.1f}));
    m.tensors.push_back(floats("bn.running_mean", {3}, {0.01f, -0.02f, 0.03f}));
    m.tensors.push_back(floats("bn.running_var", {3}, {1.0f, 0.9f, 1.1f}));
    m.tensors.push_back(integers("bn.num_batches_tracked", {}, {100}));
    m.tensors.push_back(shared("fc.weight", {2, 2}, 1, {-1.0f, 1.0f}, {0, 3}, {1, 0}));
    m.tensors.push_back(floats("fc.bias", {2}, {0.5f, -0.5f}));
    using dcz::Op;
    m.graph.nodes = {
        {Op::kConv2d, {0}, {"conv.weight"}, {1, 1, 1, 1, 1, 1, 1}, {}},
        {Op::kBatchNorm, {1}, {"bn.weight", "bn.bias", "bn.running_mean", "bn.running_var"}, {}, {1e-5f}},
        {Op::kRelu, {2}, {}, {}, {}},
        {Op::kAdd, {3, 1}, {}, {}, {-0.5f}},
        {Op::kMaxPool2d, {4}, {}, {2, 2, 2, 2, 0, 0, 1, 1, 0}, {}},
        {Op::kSlice, {5}, {}, {1, -2, 3, 1}, {}},
        {Op::kPad, {6}, {}, {1, 0, 0, 1, 0, 0}, {0.0f}},
        {Op::kGlobalAvgPool, {7}, {}, {}, {}},
        {Op::kFlatten, {8}, {}, {}, {}},
        linear(9, {"fc.weight", "fc.bias"}),
    };
    m.graph.output = 10;
    out.push_back(encoded("graph", "a ten-operation graph (conv2d, batch_norm, relu, add with alpha -0.5, max_pool2d, "
                                   "slice with a negative start, pad, global_avg_pool, flatten, linear) over two shared "
                                   "and six dense tensors",
                          m));
  }
  {
    dcz::Model m;
    std::vector<uint32_t> positions;
    std::vector<uint8_t> indices;
    for (uint32_t p = 0; p < 4 * 3 * 9; ++p)
      if ((p * 7919u) % 5 < 2) positions.push_back(p), indices.push_back(uint8_t((p * 31u) % 7));
    m.tensors.push_back(shared("conv.weight", {4, 3, 3, 3}, 3, {-0.4f, -0.2f, -0.1f, 0.05f, 0.1f, 0.2f, 0.4f},
                               positions, indices, dcz::Coder::kAdaptive));
    m.graph.nodes.push_back({dcz::Op::kConv2d, {0}, {"conv.weight"}, {1, 1, 0, 0, 1, 1, 1}, {}});
    m.graph.output = 1;
    out.push_back(encoded("adaptive", "coder 1 on a 4x3x3x3 weight (kernels of 9): significance contexts, the three "
                                      "index trees, signalled rates", m));
  }
  {
    dcz::Model m;
    m.tensors.push_back(shared("fc.weight", {3, 4}, 2, {-1.0f, -0.5f, 0.5f, 1.0f}, {0, 5, 6, 11}, {3, 0, 2, 1},
                               dcz::Coder::kAdaptive));
    m.tensors.push_back(floats("fc.bias", {3}, {0.125f, -0.25f, 8.0f}, dcz::Storage::kFloat32, dcz::Coder::kAdaptive));
    m.tensors.push_back(floats("bn.bias", {3}, {0.1f, 0.2f, 0.3f}, dcz::Storage::kFloat16, dcz::Coder::kAdaptive));
    m.tensors.push_back(integers("num_batches_tracked", {}, {12345}, dcz::Coder::kAdaptive));
    m.graph.nodes.push_back(linear(0, {"fc.weight", "fc.bias"}));
    m.graph.nodes.push_back({dcz::Op::kMul, {1, 1}, {}, {}, {}});
    m.graph.nodes.push_back(linear(2, {"fc.weight", "bn.bias"}));
    m.graph.output = 3;
    out.push_back(encoded("dense_stream", "float32, float16 and int64 values in the dense stream (storage 128, 131, "
                                          "129) beside an adaptive shared tensor", m));
  }
  {
    dcz::Model m;
    m.tensors.push_back(shared("fc.weight", {2, 2}, 1, {-1.0f, 1.0f}, {0, 3}, {0, 1}));
    m.tensors.push_back(floats("bn.weight", {2}, {1.5f, 0.5f}));
    m.tensors.push_back(floats("bn.bias", {2}, {0.25f, -0.25f}));
    m.tensors.push_back(floats("bn.running_mean", {2}, {-0.0f, -0.0f}, dcz::Storage::kConstant));
    m.tensors.push_back(floats("bn.running_var", {2}, {1.0f, 1.0f}, dcz::Storage::kConstant));
    m.graph.nodes.push_back(linear(0, {"fc.weight"}));
    m.graph.nodes.push_back(
        {dcz::Op::kBatchNorm, {1}, {"bn.weight", "bn.bias", "bn.running_mean", "bn.running_var"}, {}, {1e-5f}});
    m.graph.output = 2;
    out.push_back(encoded("constant", "constant storage (4): a folded BatchNorm's running statistics, -0.0 and 1.0, "
                                      "one f32 each in the entry, no payload", m));
  }
  {
    dcz::Model m;
    m.metadata = {{"class_names", "caf\xC3\xA9,na\xC3\xAFve,\xE2\x82\xAC"}, {"producer", "conformance"}, {"", ""}};
    m.tensors.push_back(shared("layer.weight", {2, 2}, 1, {-1.0f, 1.0f}, {0, 3}, {0, 1}));
    m.tensors.push_back(floats("layer", {2}, {1.0f, 2.0f}));
    m.tensors.push_back(floats("layer.bias", {2}, {3.0f, 4.0f}));
    m.tensors.push_back(floats("\xCE\xA9.bias", {2}, {5.0f, 6.0f}));
    m.graph.nodes.push_back(linear(0, {"layer.weight", "layer"}));
    m.graph.nodes.push_back(linear(1, {"layer.weight", "layer.bias"}));
    m.graph.nodes.push_back(linear(2, {"layer.weight", "\xCE\xA9.bias"}));
    m.graph.output = 3;
    out.push_back(encoded("names_and_metadata", "UTF-8 metadata (an empty key and value too); names sharing a prefix, "
                                                "one that is all prefix (empty rest), one that shares nothing", m));
  }
  for (const Valid& v : out) {
    const dcz::Model decoded = dcz::decode(v.bytes.data(), v.bytes.size());
    require(decoded.tensors.size() == v.tensors.size(), v.name, "decodes to another tensor count");
  }
  return out;
}

std::vector<Invalid> invalid_vectors() {
  std::vector<Invalid> out;
  const auto add = [&out](std::string name, std::string what, TinyFile f, std::string error) {
    out.push_back({std::move(name), std::move(what), write(f), std::move(error)});
  };
  TinyFile f;
  {
    std::vector<uint8_t> bytes = write(TinyFile{});
    bytes.resize(19);
    out.push_back({"too_short", "19 bytes: less than a header and a checksum", bytes,
                   "too short to be a dcomp compressed file"});
  }
  f = {}, f.magic = "DCZ2";
  add("bad_magic", "magic DCZ2", f, "not a dcomp compressed file (bad magic)");
  f = {}, f.version = 3;
  add("version_3", "a version this reader does not know", f, "unsupported format version 3 (this dcomp reads 1 to 2)");
  f = {}, f.drop = 1;
  add("truncated", "the tiny file without its last byte: the checksum fails before anything is parsed", f,
      "checksum mismatch (file truncated or corrupted)");
  f = {}, f.metadata = {{"a", "1"}, {"a", "2"}};
  add("duplicate_metadata_key", "key 'a' twice", f, "duplicate metadata key 'a'");
  f = {}, f.name = "\xC0\xAF";
  add("name_not_utf8", "a name in overlong UTF-8 (C0 AF)", f, "string is not UTF-8");
  f = {}, f.nonzeros = {0x83, 0x00};
  add("overlong_varint", "nonzeros as 83 00: a varint whose last byte adds nothing", f, "overlong variable-length integer");
  f = {}, f.nonzeros = {0x83, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02};
  add("varint_past_64_bits", "a tenth varint byte above 1", f, "malformed variable-length integer");
  f = {}, f.dims = {uint64_t(1) << 14, uint64_t(1) << 15};
  add("shape_too_large", "2^29 elements, above the 2^28 cap", f, "tensor 'w': shape too large");
  f = {}, f.nonzeros = {7};
  add("nonzeros_above_numel", "7 nonzeros in 6 elements", f, "tensor 'w': more nonzeros than elements");
  f = {}, f.codebook = {-0.5f, std::numeric_limits<float>::infinity()};
  add("codebook_infinite", "an infinite codebook value", f, "tensor 'w': codebook value not finite");
  f = {}, f.storage = 0x82;
  add("shared_in_dense_stream", "storage 130: bit 7 on a shared tensor", f, "tensor 'w': unknown storage type 130");
  f = {}, f.storage = 0x84;
  add("constant_in_dense_stream", "storage 132: bit 7 on a constant tensor", f, "tensor 'w': unknown storage type 132");
  f = {}, f.storage = 5;
  add("unknown_storage", "storage 5", f, "tensor 'w': unknown storage type 5");
  f = {}, f.storage = 4, f.dims = {uint64_t(1) << 11, uint64_t(1) << 10};
  add("constant_too_large", "a constant tensor of 2^21 elements, above the 2^20 cap", f,
      "tensor 'w': constant tensors of more than 2^20 elements in all");
  f = {}, f.coder = 2;
  add("unknown_coder", "coder 2", f, "tensor 'w': unknown coder 2");
  f = {}, f.index_lengths = {1, 1, 1};
  add("index_code_too_long", "3 index code lengths for a codebook of 2", f,
      "tensor 'w': index code lists more symbols than its alphabet");
  f = {}, f.position_lengths = {1, 1, 0};
  add("length_table_trailing_zero", "a position code whose last length is 0", f,
      "tensor 'w': position code ends in symbols without a code");
  f = {}, f.length_padding = 1;
  add("length_table_padding", "a 1 in the padding after the index code lengths", f,
      "tensor 'w': index code table's padding bits are not zero");
  f = {}, f.index_lengths = {1, 2};
  add("incomplete_code", "index code lengths 1 and 2: Kraft sum 3/4", f,
      "tensor 'w': index code: Huffman code lengths leave the code incomplete");
  f = {}, f.index_stream_bits = 2;
  add("stream_shorter_than_nonzeros", "a 2-bit index stream for 3 nonzeros", f,
      "tensor 'w': streams too short for the nonzero count");
  f = {}, f.nonzeros = {0}, f.index_stream_bits = 0, f.position_stream_bits = 0, f.index_stream = {},
  f.position_stream = {};
  add("codes_without_nonzeros", "nonzeros 0 with non-empty codes", f, "tensor 'w': codes or streams without nonzeros");
  f = {}, f.graph = {1, 15, 1, 1, 1, 0, 0, 0, 1};
  add("graph_reads_unwritten", "the linear operation reads value 1, its own output", f,
      "graph node 0: reads value 1 before it is written");
  f = {}, f.graph = {1, 3, 1, 0, 0, 0, 0, 1};
  add("tensor_read_by_nothing", "a relu graph that reads no tensor", f, "tensor 'w' is read by no operation of the graph");
  f = {}, f.index_stream = {0xA1};
  add("stream_padding", "a 1 in the index stream's padding", f, "tensor 'w': index stream's padding bits are not zero");
  f = {}, f.dims = {1, 3};
  add("position_past_end", "the same streams in a 1x3 tensor: the third nonzero lands at 3", f,
      "tensor 'w': position beyond the tensor");
  f = {}, f.index_stream_bits = 4;
  add("stream_not_consumed", "a 4-bit index stream holding three 1-bit codes", f,
      "tensor 'w': stream not consumed exactly");
  f = {}, f.trailing = {0};
  add("bytes_after_payload", "a zero byte between the payload and the checksum", f, "unexpected bytes after the payload");
  for (const Invalid& v : out) {
    try {
      dcz::decode(v.bytes.data(), v.bytes.size());
      require(false, v.name, "decodes");
    } catch (const FormatError& e) {
      require(e.what() == v.error, v.name, std::string("gives '") + e.what() + "', not '" + v.error + "'");
    }
  }
  return out;
}

namespace {

void write_bytes(const fs::path& path, const std::vector<uint8_t>& bytes) {
  write_file_atomic(path.string(), std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

std::string hex(const std::vector<uint8_t>& bytes) {
  static const char* digits = "0123456789abcdef";
  std::string s;
  for (uint8_t b : bytes) s += {digits[b >> 4], digits[b & 15], ' '};
  if (!s.empty()) s.pop_back();
  return s;
}

}  // namespace

void write_all(const std::string& dir) {
  const fs::path root(dir);
  std::string readme =
      "# Conformance vectors for the .dcz format\n\n"
      "Small files that each exercise one rule of [docs/format.md](../../docs/format.md). Written by "
      "`build/tests/make_conformance_vectors tests/conformance` from `tests/conformance/vectors.cpp`; "
      "`tests/test_conformance.cpp` checks that these files are what it writes and that dcomp's reader decodes "
      "the valid ones to their `.npy` files, bit for bit, and refuses the invalid ones with their message.\n\n"
      "## Valid\n\n`valid/NAME.dcz` decodes to one `valid/NAME/TENSOR.npy` per tensor (float32 for float32, "
      "float16, constant and shared tensors, int64 for int64 ones; shapes as stored).\n\n"
      "| file | bytes | what it tests |\n|---|---|---|\n";
  fs::create_directories(root / "valid");
  fs::create_directories(root / "invalid");
  for (const Valid& v : valid_vectors()) {
    write_bytes(root / "valid" / (v.name + ".dcz"), v.bytes);
    fs::create_directories(root / "valid" / v.name);
    for (const Tensor& t : v.tensors) {
      const std::string path = (root / "valid" / v.name / (t.name + ".npy")).string();
      if (t.is_integer) npy::save(path, t.integers, t.shape);
      else npy::save(path, t.floats, t.shape);
    }
    readme += "| `" + v.name + ".dcz` | " + std::to_string(v.bytes.size()) + " | " + v.what + " |\n";
  }
  readme += "\n## Invalid\n\n`invalid/NAME.dcz` must be refused; `invalid/NAME.error` holds the message dcomp gives "
            "(a reader may word its own, but must refuse for the same reason). Most are the tiny file with one field "
            "changed (the checksum recomputed, except where it is the point).\n\n"
            "| file | what is wrong | message |\n|---|---|---|\n";
  for (const Invalid& v : invalid_vectors()) {
    write_bytes(root / "invalid" / (v.name + ".dcz"), v.bytes);
    const std::string line = v.error + "\n";
    write_bytes(root / "invalid" / (v.name + ".error"), std::vector<uint8_t>(line.begin(), line.end()));
    readme += "| `" + v.name + ".dcz` | " + v.what + " | " + v.error + " |\n";
  }
  readme += "\nThe tiny file, byte by byte in docs/format.md: `" + hex(write(TinyFile{})) + "`\n";
  write_bytes(root / "README.md", std::vector<uint8_t>(readme.begin(), readme.end()));
}

}  // namespace dcomp::conformance
