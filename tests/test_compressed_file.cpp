#include <gtest/gtest.h>
#include <zlib.h>

#include <random>

#include "core/bit_stream.h"
#include "core/compressed_file.h"
#include "core/float16.h"
#include "core/gap_coding.h"

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
  const Model m = sample_model();
  Layout layout;
  const std::vector<uint8_t> bytes = encode(m, &layout);
  expect_equal(m, decode(bytes.data(), bytes.size()));
  EXPECT_EQ(layout.file_bytes, bytes.size());
  // The layout accounts for every byte.
  uint64_t sum = layout.header_bytes + layout.graph_bytes;
  for (const TensorLayout& t : layout.tensors) sum += t.table_bytes + t.dense_bytes + (t.index_bits + 7) / 8 + (t.position_bits + 7) / 8;
  EXPECT_EQ(sum, bytes.size());
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
  const std::string path = ::testing::TempDir() + "/model.dcz";
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
  const std::vector<uint8_t> bytes = encode(sample_model());
  for (size_t n = 0; n < bytes.size(); ++n) {
    std::vector<uint8_t> prefix(bytes.begin(), bytes.begin() + long(n));
    EXPECT_NE(decode_error(prefix), "") << "prefix of " << n << " bytes";
    if (n >= 20) {  // even with a valid checksum
      fix_checksum(prefix);
      EXPECT_NE(decode_error(prefix), "") << "prefix of " << n << " bytes";
    }
  }
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
  EXPECT_NE(mutated(coder, {1}).find("unknown coder 1"), std::string::npos);
  EXPECT_NE(mutated(bits, {9}).find("index bits"), std::string::npos);
  EXPECT_NE(mutated(nonzeros, {0xFF, 0xFF, 0xFF, 0x7F}).find("more nonzeros than elements"), std::string::npos);
  EXPECT_NE(mutated(nonzeros, {0xE8, 0x07}).find("streams too short"), std::string::npos);  // 1000 nonzeros
  EXPECT_NE(mutated(codebook, {0, 0, 0xC0, 0x7F}).find("not finite"), std::string::npos);   // NaN
  // Index code lengths: count (2 bytes), then 5-bit lengths; 0xFF... = 31.
  EXPECT_NE(mutated(nonzeros + 2 + 2, {0xFF}).find("code length above"), std::string::npos);
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
  const std::vector<uint8_t> good = encode(sample_model());
  std::mt19937 rng(5);
  int rejected = 0;
  for (int trial = 0; trial < 3000; ++trial) {
    std::vector<uint8_t> b = good;
    for (int k = 0; k < 1 + trial % 3; ++k) b[rng() % (b.size() - 4)] ^= uint8_t(1 + rng() % 255);
    fix_checksum(b);
    try {
      decode(b.data(), b.size());
    } catch (const FormatError&) {
      ++rejected;
    }
  }
  EXPECT_GT(rejected, 1000);  // most corruptions are caught by validation alone
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
