#include <gtest/gtest.h>
#include <zlib.h>

#include <random>

#include "core/bit_stream.h"
#include "core/compressed_file.h"
#include "core/float16.h"
#include "core/gap_coding.h"
#include "temp_dir.h"

using namespace dcomp;
using namespace dcomp::dcz;

namespace {

Tensor make_tensor(const std::string& name, std::vector<int64_t> shape, Storage storage) {
  Tensor t;
  t.name = name;
  t.shape = std::move(shape);
  t.storage = storage;
  return t;
}

// A shared tensor of `numel` elements, each nonzero with probability `density`.
Tensor random_shared(const std::string& name, std::vector<int64_t> shape, double density, int bits, uint32_t seed) {
  Tensor t = make_tensor(name, std::move(shape), Storage::kShared);
  std::mt19937 rng(seed);
  std::bernoulli_distribution keep(density);
  std::geometric_distribution<int> index(0.3);  // skewed, as k-means indices are
  for (int i = 0; i < (1 << bits); ++i) t.shared.codebook.push_back(float(i) * 0.01f - 0.1f);
  t.shared.bits = bits;
  for (uint32_t p = 0; p < t.numel(); ++p) {
    if (!keep(rng)) continue;
    t.shared.positions.push_back(p);
    t.shared.indices.push_back(uint8_t(std::min(index(rng), (1 << bits) - 1)));
  }
  return t;
}

// A graph that reads every float and shared tensor once: all the format
// itself asks of a graph (the runtime checks what each operation does).
Model with_graph(Model m) {
  m.graph.nodes.clear();
  for (const Tensor& t : m.tensors)
    if (t.storage != Storage::kInt64)
      m.graph.nodes.push_back({Op::kLinear, {uint32_t(m.graph.nodes.size())}, {t.name}, {}, {}});
  m.graph.output = uint32_t(m.graph.nodes.size());
  return m;
}

Model sample_model() {
  Model m;
  m.metadata = {{"model", "test"}, {"producer", "dcomp tests"}};
  m.tensors.push_back(random_shared("conv.weight", {16, 3, 3, 3}, 0.3, 5, 1));
  m.tensors.push_back(random_shared("fc.weight", {10, 300}, 0.05, 4, 2));  // long gaps: escapes
  m.tensors.push_back(random_shared("empty.weight", {4, 4}, 0.0, 2, 3));   // all pruned
  m.tensors.push_back(random_shared("dense.weight", {64}, 1.0, 1, 4));     // none pruned
  Tensor bias = make_tensor("fc.bias", {10}, Storage::kFloat32);
  for (int i = 0; i < 10; ++i) bias.floats.push_back(float(i) / 3);
  m.tensors.push_back(bias);
  Tensor half = make_tensor("bn.running_var", {3}, Storage::kFloat16);
  half.floats = {0.5f, 2.0f, -0.25f};  // halves exactly
  m.tensors.push_back(half);
  Tensor mean = make_tensor("bn.running_mean", {3}, Storage::kConstant);
  mean.floats.assign(3, -0.0f);  // one value, stored once (sign included)
  m.tensors.push_back(mean);
  Tensor count = make_tensor("bn.num_batches_tracked", {}, Storage::kInt64);
  count.integers = {123456789012};
  m.tensors.push_back(count);
  m = with_graph(std::move(m));
  // Every kind of field: inputs, ints (negative ones too) and floats.
  m.graph.nodes.push_back({Op::kSlice, {m.graph.output}, {}, {1, -3, INT64_MAX, 2}, {}});
  m.graph.nodes.push_back({Op::kAdd, {m.graph.output + 1, 1}, {}, {}, {-0.5f}});
  m.graph.output += 2;
  return m;
}

// m with every tensor stored under `coder`.
Model with_coder(Model m, Coder coder) {
  for (Tensor& t : m.tensors) t.coder = coder;
  return m;
}

void expect_equal(const Model& a, const Model& b) {
  EXPECT_EQ(a.metadata, b.metadata);
  ASSERT_EQ(a.tensors.size(), b.tensors.size());
  for (size_t i = 0; i < a.tensors.size(); ++i) {
    const Tensor &x = a.tensors[i], &y = b.tensors[i];
    EXPECT_EQ(x.name, y.name);
    EXPECT_EQ(x.shape, y.shape);
    EXPECT_EQ(x.storage, y.storage);
    EXPECT_EQ(x.floats, y.floats);
    EXPECT_EQ(x.integers, y.integers);
    if (x.storage != Storage::kConstant) EXPECT_EQ(x.coder, y.coder);  // a constant has no coder
    EXPECT_EQ(x.shared.bits, y.shared.bits);
    EXPECT_EQ(x.shared.codebook, y.shared.codebook);
    EXPECT_EQ(x.shared.positions, y.shared.positions) << x.name;
    EXPECT_EQ(x.shared.indices, y.shared.indices) << x.name;
  }
  ASSERT_EQ(a.graph.nodes.size(), b.graph.nodes.size());
  for (size_t i = 0; i < a.graph.nodes.size(); ++i) {
    const Node &x = a.graph.nodes[i], &y = b.graph.nodes[i];
    EXPECT_EQ(x.op, y.op);
    EXPECT_EQ(x.inputs, y.inputs);
    EXPECT_EQ(x.tensors, y.tensors);
    EXPECT_EQ(x.ints, y.ints);
    EXPECT_EQ(x.floats, y.floats);
  }
  EXPECT_EQ(a.graph.output, b.graph.output);
}

void fix_checksum(std::vector<uint8_t>& bytes) {
  const size_t n = bytes.size() - 4;
  const uint32_t crc = uint32_t(crc32(crc32(0L, Z_NULL, 0), bytes.data(), uInt(n)));
  for (int i = 0; i < 4; ++i) bytes[n + size_t(i)] = uint8_t(crc >> (8 * i));
}

std::string decode_error(const std::vector<uint8_t>& bytes) {
  try {
    decode(bytes.data(), bytes.size());
  } catch (const FormatError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(GapCoding, EscapesCarryLongRuns) {
  // Positions 0, 2, 9 with b = 2 (E = 3): gaps 0, 1, 6 -> [0] [1] [3 3 0].
  EXPECT_EQ(gaps::symbols({0, 2, 9}, 2), (std::vector<uint32_t>{0, 1, 3, 3, 0}));
  EXPECT_EQ(gaps::frequencies({0, 2, 9}, 2), (std::vector<uint64_t>{2, 1, 0, 2}));
  // b = 1 (E = 1) is unary: each zero is one escape.
  EXPECT_EQ(gaps::symbols({2}, 1), (std::vector<uint32_t>{1, 1, 0}));
}

TEST(CompressedFile, RoundTripIsExact) {
  for (Coder coder : {Coder::kHuffman, Coder::kAdaptive}) {
    const Model m = with_coder(sample_model(), coder);
    Layout layout;
    const std::vector<uint8_t> bytes = encode(m, &layout);
    expect_equal(m, decode(bytes.data(), bytes.size()));
    EXPECT_EQ(layout.file_bytes, bytes.size());
    // The layout accounts for every byte (an adaptive stream's bits are
    // whole bytes, split between the parts).
    uint64_t sum = layout.header_bytes + layout.graph_bytes + layout.dense_stream_bytes;
    EXPECT_EQ(layout.dense_stream_bytes > 0, coder == Coder::kAdaptive);
    for (const TensorLayout& t : layout.tensors) {
      sum += t.table_bytes + t.dense_bytes;
      sum += coder == Coder::kHuffman ? (t.index_bits + 7) / 8 + (t.position_bits + 7) / 8
                                      : (t.index_bits + t.position_bits) / 8;
      if (t.storage == Storage::kShared) {
        EXPECT_EQ(t.coder, coder);
      }
    }
    EXPECT_EQ(sum, bytes.size());
  }
}

// A mask with structure a context can see: whole kernels pruned, and
// nonzeros that come in runs. The adaptive coder lands within its flush of
// the models' own cost, and below Huffman's streams and tables.
TEST(CompressedFile, AdaptiveCoderLandsOnItsModelCost) {
  Tensor t = make_tensor("conv.weight", {64, 64, 3, 3}, Storage::kShared);
  t.shared.bits = 4;
  for (int i = 0; i < 16; ++i) t.shared.codebook.push_back(float(i - 8) * 0.01f);
  std::mt19937 rng(3);
  std::bernoulli_distribution dead_kernel(0.5), run_continues(0.7);
  std::geometric_distribution<int> index(0.25);
  for (uint32_t k = 0; k < 64 * 64; ++k) {
    if (dead_kernel(rng)) continue;
    bool on = false;
    for (uint32_t j = 0; j < 9; ++j) {
      on = on ? run_continues(rng) : !run_continues(rng);
      if (!on) continue;
      t.shared.positions.push_back(k * 9 + j);
      t.shared.indices.push_back(uint8_t(std::min(index(rng), 15)));
    }
  }
  Model m;
  m.tensors.push_back(t);
  Layout huffman, adaptive;
  encode(with_graph(with_coder(m, Coder::kHuffman)), &huffman);
  const std::vector<uint8_t> bytes = encode(with_graph(with_coder(m, Coder::kAdaptive)), &adaptive);
  const TensorLayout &h = huffman.tensors[0], &a = adaptive.tensors[0];
  const double model_bits = a.position_entropy_bits + a.index_entropy_bits;
  EXPECT_GE(double(a.position_bits + a.index_bits), model_bits);
  EXPECT_LT(double(a.position_bits + a.index_bits), model_bits + 48);  // flush and 15-bit precision
  EXPECT_LT(a.table_bytes + (a.position_bits + a.index_bits) / 8,
            0.98 * double(h.table_bytes + (h.position_bits + 7) / 8 + (h.index_bits + 7) / 8));
  expect_equal(with_graph(with_coder(m, Coder::kAdaptive)), decode(bytes.data(), bytes.size()));
}

TEST(CompressedFile, StreamsComeCloseToTheirEntropy) {
  Model m;
  m.tensors.push_back(random_shared("w", {200000}, 0.1, 5, 7));
  Layout layout;
  encode(with_graph(m), &layout);
  const TensorLayout& t = layout.tensors[0];
  EXPECT_GE(double(t.index_bits), t.index_entropy_bits);
  EXPECT_LT(double(t.index_bits), 1.05 * t.index_entropy_bits);
  EXPECT_GE(double(t.position_bits), t.position_entropy_bits);
  EXPECT_LT(double(t.position_bits), 1.10 * t.position_entropy_bits);
  // Gaps at 10% density are geometric with mean 9: far below 32-bit positions.
  EXPECT_LT(double(t.position_bits) / 20000, 5.0);
}

TEST(CompressedFile, EscapesBeatFillerZeros) {
  // Han et al.'s filler zeros cost an index each; escapes do not. Equal at
  // best when no gap needs one, strictly better on a very sparse tensor.
  for (double density : {0.5, 0.02}) {
    Model m;
    m.tensors.push_back(random_shared("w", {100000}, density, 5, 11));
    Layout layout;
    encode(with_graph(m), &layout);
    const TensorLayout& t = layout.tensors[0];
    const uint64_t ours = t.index_bits + t.position_bits + t.position_table_bits;
    EXPECT_LE(ours, t.filler_scheme_bits) << density;
    if (density < 0.1) {
      EXPECT_LT(double(ours), 0.99 * double(t.filler_scheme_bits));
    }
  }
}

TEST(CompressedFile, WriteThenRead) {
  const dcomp::testing::TempDir dir;
  const std::string path = dir.file("model.dcz");
  write(path, sample_model());
  expect_equal(sample_model(), read(path));
  EXPECT_THROW(read(path + ".missing"), std::runtime_error);
}

TEST(CompressedFile, EncodeRejectsBrokenModels) {
  Model m = sample_model();
  m.tensors[0].shared.indices[0] = 200;  // outside a 32-entry codebook
  EXPECT_THROW(encode(m), std::invalid_argument);
  m = sample_model();
  std::swap(m.tensors[0].shared.positions[0], m.tensors[0].shared.positions[1]);
  EXPECT_THROW(encode(m), std::invalid_argument);
  m = sample_model();
  m.tensors.push_back(m.tensors[0]);
  EXPECT_THROW(encode(m), std::invalid_argument);
  m = sample_model();
  m.graph = {};
  EXPECT_THROW(encode(m), std::invalid_argument) << "a file holds its graph";
}

TEST(CompressedFile, EveryTruncationIsAFormatError) {
  for (Coder coder : {Coder::kHuffman, Coder::kAdaptive}) {
    const std::vector<uint8_t> bytes = encode(with_coder(sample_model(), coder));
    for (size_t n = 0; n < bytes.size(); ++n) {
      std::vector<uint8_t> prefix(bytes.begin(), bytes.begin() + long(n));
      EXPECT_NE(decode_error(prefix), "") << "prefix of " << n << " bytes";
      if (n >= 20) {  // even with a valid checksum
        fix_checksum(prefix);
        EXPECT_NE(decode_error(prefix), "") << "prefix of " << n << " bytes";
      }
    }
  }
}

// An adaptive stream cut short, or with bytes to spare, inside an
// otherwise valid file (its length field and checksum agreeing).
TEST(CompressedFile, AdaptiveStreamMustBeConsumedExactly) {
  Model m;
  m.tensors.push_back(random_shared("w", {1000}, 0.3, 3, 9));
  const Model adaptive = with_graph(with_coder(m, Coder::kAdaptive));
  Layout layout;
  const std::vector<uint8_t> good = encode(adaptive, &layout);
  EXPECT_EQ(decode_error(good), "");
  // The entry ends with the stream's length (a varint of 1 or 2 bytes),
  // just before the graph; the stream follows the graph.
  const uint64_t stream_bytes = (layout.tensors[0].position_bits + layout.tensors[0].index_bits) / 8;
  ASSERT_GT(stream_bytes, 127u);
  const size_t length_at = 16 + layout.tensors[0].table_bytes - 2;
  ASSERT_EQ((good[length_at] & 0x7F) | (good[length_at + 1] << 7), stream_bytes);
  const size_t stream_at = good.size() - 4 - stream_bytes;
  for (int delta : {-1, +1}) {
    std::vector<uint8_t> b(good.begin(), good.begin() + long(stream_at));
    const uint64_t n = stream_bytes + delta;
    b[length_at] = uint8_t(0x80 | (n & 0x7F)), b[length_at + 1] = uint8_t(n >> 7);
    b.insert(b.end(), good.begin() + long(stream_at), good.begin() + long(stream_at + std::min(n, stream_bytes)));
    if (delta > 0) b.push_back(0);
    b.insert(b.end(), 4, 0);
    fix_checksum(b);
    EXPECT_NE(decode_error(b).find("adaptive stream"), std::string::npos) << delta;
  }
}

// BN-like vectors: the values of one role share their sign and exponent,
// which the dense stream's models learn across tensors.
TEST(CompressedFile, DenseStreamCodesBatchNormBelowItsRawSize) {
  Model m;
  std::mt19937 rng(2);
  std::normal_distribution<float> around_one(1.0f, 0.1f), small(0.0f, 0.05f);
  for (int layer = 0; layer < 8; ++layer)
    for (const char* role : {"weight", "bias", "running_mean", "running_var"}) {
      Tensor t = make_tensor("layer" + std::to_string(layer) + ".bn." + role, {32}, Storage::kFloat16);
      const bool scale = std::string(role) == "weight" || std::string(role) == "running_var";
      for (int c = 0; c < 32; ++c) t.floats.push_back(half_to_float(float_to_half(scale ? around_one(rng) : small(rng))));
      m.tensors.push_back(t);
    }
  Layout raw, coded;
  encode(with_graph(m), &raw);
  const Model adaptive = with_graph(with_coder(m, Coder::kAdaptive));
  const std::vector<uint8_t> bytes = encode(adaptive, &coded);
  EXPECT_EQ(coded.file_bytes, raw.file_bytes - 8 * 4 * 32 * 2 + coded.dense_stream_bytes);
  EXPECT_LT(coded.dense_stream_bytes, 0.85 * 8 * 4 * 32 * 2);
  EXPECT_GE(8.0 * double(coded.dense_stream_bytes), coded.dense_stream_model_bits);
  expect_equal(adaptive, decode(bytes.data(), bytes.size()));
}

// A dense stream must be long enough for what it claims to hold: a flagged
// entry's shape cannot make the decoder allocate without bound.
TEST(CompressedFile, DenseStreamLengthBoundsItsValues) {
  Model m;
  Tensor t = make_tensor("v", {8}, Storage::kFloat32);
  t.floats.assign(8, 0.5f);
  m.tensors.push_back(t);
  const std::vector<uint8_t> good = encode(with_graph(with_coder(m, Coder::kAdaptive)));
  EXPECT_EQ(decode_error(good), "");
  // The entry: name prefix, name "v", storage (0x80: in the dense stream), rank 1, dim 8.
  ASSERT_EQ(good[16 + 3], 0x80);
  ASSERT_EQ(good[16 + 5], 8);
  std::vector<uint8_t> bad = good;
  bad.erase(bad.begin() + 16 + 5);
  const uint8_t two_to_the_21[] = {0x80, 0x80, 0x80, 0x01};  // 2^21 floats, 8 MiB, from a stream of a few bytes
  bad.insert(bad.begin() + 16 + 5, std::begin(two_to_the_21), std::end(two_to_the_21));
  fix_checksum(bad);
  EXPECT_NE(decode_error(bad).find("dense stream too short"), std::string::npos) << decode_error(bad);
  bad = good;
  bad[16 + 3] = 0x82;  // a shared tensor cannot be in the dense stream
  fix_checksum(bad);
  EXPECT_NE(decode_error(bad).find("unknown storage type 130"), std::string::npos);
}

TEST(CompressedFile, HeaderFaultsAreNamed) {
  std::vector<uint8_t> bytes = encode(sample_model());
  std::vector<uint8_t> bad = bytes;
  bad[0] = 'X';
  EXPECT_NE(decode_error(bad).find("bad magic"), std::string::npos);
  bad = bytes;
  bad[4] = 3;
  EXPECT_NE(decode_error(bad).find("version 3"), std::string::npos);
  bad = bytes;
  bad[bytes.size() / 2] ^= 0x10;
  EXPECT_NE(decode_error(bad).find("checksum"), std::string::npos);
  bad = bytes;
  bad[12] = 0xFF, bad[13] = 0xFF, bad[14] = 0xFF;  // tensor count 16 million
  fix_checksum(bad);
  EXPECT_NE(decode_error(bad).find("too many tensors"), std::string::npos);
}

TEST(CompressedFile, HostileTableEntriesAreRejected) {
  // One shared tensor "w" of shape [1000] with about 200 nonzeros, no
  // metadata. Its entry starts at byte 16: shared name prefix (varint 1),
  // name (varint length 1, "w"), storage (1), rank (1), dim 1000 (varint 2),
  // coder (1), bits (1), codebook size (2), codebook (4 x 4), nonzeros
  // (varint 2), index code lengths (count 2, then the lengths), ...
  Model m;
  m.tensors.push_back(random_shared("w", {1000}, 0.2, 2, 9));
  ASSERT_GE(m.tensors[0].shared.positions.size(), 128u);  // a two-byte varint
  const std::vector<uint8_t> good = encode(with_graph(m));
  const size_t rank = 16 + 3 + 1, dims = rank + 1, coder = dims + 2, bits = coder + 1, codebook = bits + 3,
               nonzeros = codebook + 16;
  auto mutated = [&](size_t offset, std::vector<uint8_t> value) {
    std::vector<uint8_t> b = good;
    std::copy(value.begin(), value.end(), b.begin() + long(offset));
    fix_checksum(b);
    return decode_error(b);
  };
  EXPECT_EQ(decode_error(good), "");
  EXPECT_NE(mutated(16, {5}).find("shares more than the previous name"), std::string::npos);
  EXPECT_NE(mutated(rank, {9}).find("rank"), std::string::npos);
  EXPECT_NE(mutated(dims, {0xFF, 0xFF, 0xFF, 0xFF, 0x7F}).find("shape too large"), std::string::npos);
  EXPECT_NE(mutated(dims, {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}).find("malformed variable"),
            std::string::npos);
  EXPECT_NE(mutated(coder, {2}).find("unknown coder 2"), std::string::npos);
  EXPECT_NE(mutated(bits, {9}).find("index bits"), std::string::npos);
  EXPECT_NE(mutated(nonzeros, {0xFF, 0xFF, 0xFF, 0x7F}).find("more nonzeros than elements"), std::string::npos);
  EXPECT_NE(mutated(nonzeros, {0xE8, 0x07}).find("streams too short"), std::string::npos);  // 1000 nonzeros
  EXPECT_NE(mutated(codebook, {0, 0, 0xC0, 0x7F}).find("not finite"), std::string::npos);   // NaN
  // Index code lengths: count (2 bytes), then 5-bit lengths; 0xFF... = 31.
  EXPECT_NE(mutated(nonzeros + 2 + 2, {0xFF}).find("a length above"), std::string::npos);
  EXPECT_NE(mutated(nonzeros + 2, {0x09, 0}).find("more symbols than its alphabet"), std::string::npos);
}

TEST(CompressedFile, Float16StorageRoundsToHalf) {
  Model m;
  Tensor t = make_tensor("bn.weight", {4}, Storage::kFloat16);
  t.floats = {1.0f, 0.1f, -65504.0f, 1e-7f};
  m.tensors.push_back(t);
  Layout layout;
  const std::vector<uint8_t> bytes = encode(with_graph(m), &layout);
  EXPECT_EQ(layout.tensors[0].dense_bytes, 8u);
  const Model back = decode(bytes.data(), bytes.size());
  EXPECT_EQ(back.tensors[0].floats, (std::vector<float>{1.0f, 0.0999755859375f, -65504.0f, 1.1920928955078125e-07f}));
}

TEST(CompressedFile, ConstantTensorsAreStoredOnce) {
  Model m;
  Tensor t = make_tensor("bn.running_var", {1000}, Storage::kConstant);
  t.floats.assign(1000, 1.0f);
  m.tensors.push_back(t);
  Layout layout;
  std::vector<uint8_t> bytes = encode(with_graph(m), &layout);
  EXPECT_EQ(layout.tensors[0].dense_bytes, 0u);
  EXPECT_EQ(layout.tensors[0].table_bytes, 2 + 14 + 1 + 1 + 2 + 4u);  // name, storage, shape, one f32
  expect_equal(with_graph(m), decode(bytes.data(), bytes.size()));
  // Its entry: shared prefix 0, name (varint 14, "bn.running_var"), storage
  // 4, rank 1, dim 1000 (2 bytes), the value; then the graph.
  const size_t storage = 16 + 1 + 1 + 14, dim = storage + 2;
  auto mutated = [&](size_t offset, std::vector<uint8_t> value) {
    std::vector<uint8_t> b = bytes;
    std::copy(value.begin(), value.end(), b.begin() + long(offset));
    fix_checksum(b);
    return decode_error(b);
  };
  ASSERT_EQ(bytes[storage], 4);
  EXPECT_NE(mutated(storage, {4 | 0x80}).find("unknown storage type 132"), std::string::npos) << "no dense stream";
  EXPECT_NE(mutated(4, {1}).find("unknown storage type 4"), std::string::npos) << "version 1 has no constants";
  EXPECT_NE(mutated(dim, {0x81, 0x80, 0x40}).find("constant tensors of more than 2^20"), std::string::npos);

  m.tensors[0].floats[7] = 2.0f;
  EXPECT_THROW(encode(with_graph(m)), std::invalid_argument) << "values differ";
  m.tensors[0].floats.assign(1000, 1.0f);
  m.tensors[0].shape = {int64_t{1} << 20};
  m.tensors[0].floats.assign(size_t{1} << 20, 1.0f);
  m.tensors.push_back(make_tensor("bn.running_mean", {1}, Storage::kConstant));
  m.tensors.back().floats = {0.0f};
  EXPECT_THROW(encode(with_graph(m)), std::invalid_argument) << "2^20 + 1 constant elements";
}

TEST(Float16, EveryHalfRoundTrips) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float f = half_to_float(uint16_t(h));
    if (f != f) {
      EXPECT_NE(float_to_half(f) & 0x3FF, 0) << h;  // NaN stays NaN
      continue;
    }
    EXPECT_EQ(float_to_half(f), h) << h;
  }
  EXPECT_EQ(float_to_half(65520.0f), 0x7C00);   // rounds up to infinity
  EXPECT_EQ(float_to_half(65519.0f), 0x7BFF);   // the largest half
  EXPECT_EQ(float_to_half(2.98023224e-08f), 0); // 2^-25: a tie, to even (zero)
}

TEST(CompressedFile, RandomCorruptionNeverCrashes) {
  std::vector<uint8_t> good = encode(sample_model());
  const std::vector<uint8_t> adaptive = encode(with_coder(sample_model(), Coder::kAdaptive));
  std::mt19937 rng(5);
  int rejected = 0;
  for (int trial = 0; trial < 6000; ++trial) {
    if (trial == 3000) good = adaptive;
    std::vector<uint8_t> b = good;
    for (int k = 0; k < 1 + trial % 3; ++k) b[rng() % (b.size() - 4)] ^= uint8_t(1 + rng() % 255);
    fix_checksum(b);
    try {
      decode(b.data(), b.size());
    } catch (const FormatError&) {
      ++rejected;
    }
  }
  EXPECT_GT(rejected, 2000);  // most corruptions are caught by validation alone
}

// The graph section: a file whose graph breaks a rule is refused with the
// node and the rule, whatever the checksum says.
TEST(CompressedFile, HostileGraphsAreRejected) {
  const Model good = sample_model();
  const auto error_of = [](const Model& m) {
    // Encoding checks the same rules; written past them, as a hostile file would be.
    try {
      encode(m);
      return std::string();
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
  };
  Model m = good;
  m.graph.nodes[2].op = Op(99);
  EXPECT_NE(error_of(m).find("graph node 2: unknown operation code 99"), std::string::npos) << error_of(m);
  m = good;
  m.graph.nodes[1].inputs = {5};
  EXPECT_NE(error_of(m).find("reads value 5 before it is written"), std::string::npos) << error_of(m);
  m = good;
  m.graph.nodes[1].inputs = {2};  // its own output: a cycle
  EXPECT_NE(error_of(m).find("before it is written"), std::string::npos) << error_of(m);
  m = good;
  m.graph.nodes[0].tensors = {"no.such.tensor"};
  EXPECT_NE(error_of(m).find("names no tensor"), std::string::npos) << error_of(m);
  m = good;
  m.graph.nodes.erase(m.graph.nodes.begin());  // conv.weight read by nothing
  for (Node& n : m.graph.nodes)
    for (uint32_t& v : n.inputs) v = v > 0 ? v - 1 : 0;
  m.graph.output -= 1;
  EXPECT_NE(error_of(m).find("tensor 'conv.weight' is read by no operation"), std::string::npos) << error_of(m);
  m = good;
  m.graph.nodes.push_back({Op::kConv2d, {1}, {"conv.weight"}, {0, 1, 0, 0, 1, 1, 1}, {}});
  EXPECT_NE(error_of(m).find("stride 0 outside [1, 4096]"), std::string::npos) << error_of(m);
  m.graph.nodes.back().ints = {1, 1, 0, 0, 1, 1, 1, 1};
  EXPECT_NE(error_of(m).find("wrong number of attributes"), std::string::npos) << error_of(m);
  m.graph.nodes.back() = {Op::kMaxPool2d, {1}, {}, {3, 3, 1, 1, 1, 1, 1, 1, 2}, {}};
  EXPECT_NE(error_of(m).find("ceil_mode 2"), std::string::npos) << error_of(m);
  m.graph.nodes.back() = {Op::kClamp, {1}, {}, {}, {6.0f, 0.0f}};
  EXPECT_NE(error_of(m).find("min above max"), std::string::npos) << error_of(m);
  m.graph.nodes.back() = {Op::kAdd, {1}, {}, {}, {1.0f}};
  EXPECT_NE(error_of(m).find("takes 2 inputs, not 1"), std::string::npos) << error_of(m);
  m = good;
  m.graph.output = 0;
  EXPECT_NE(error_of(m).find("output"), std::string::npos) << error_of(m);

  // The same rules when reading: a forward reference patched into the bytes.
  std::vector<uint8_t> bytes = encode(good);
  Layout layout;
  encode(good, &layout);
  uint64_t graph_start = layout.header_bytes - 4;
  for (const TensorLayout& t : layout.tensors) graph_start += t.table_bytes;
  // graph = count, then node 0: op, input count 1, input 0 -> make it 7.
  ASSERT_EQ(bytes[graph_start + 1], uint8_t(Op::kLinear));
  bytes[graph_start + 3] = 7;
  fix_checksum(bytes);
  EXPECT_NE(decode_error(bytes).find("graph node 0: reads value 7 before it is written"), std::string::npos)
      << decode_error(bytes);
}

// Version 1 files (tensors, no graph) still decode: committed before the
// graph, a LeNet-300-100 of results/lenet300.
TEST(CompressedFile, ReadsVersionOne) {
  const Model m = read(DCOMP_TEST_DATA "/lenet300_format1.dcz");
  EXPECT_TRUE(m.graph.empty());
  ASSERT_EQ(m.tensors.size(), 6u);
  EXPECT_EQ(m.tensors[0].name, "fc1.weight");
  EXPECT_EQ(m.tensors[0].storage, Storage::kShared);
}
