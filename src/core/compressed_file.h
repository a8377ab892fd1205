// The compressed model file (.dcz), specified in docs/format.md: one
// little-endian file holding everything needed to run a pruned, weight-shared
// model: its tensors and, from version 2, the network as a graph (graph.h).
// Shared weights are stored as two entropy-coded streams per tensor
// (codebook indices, and position gaps with an escape, see gap_coding.h),
// under the coder the tensor's entry names (version 2; canonical Huffman is
// coder 0 and version 1's only one); other tensors (BN, biases) are stored
// raw, or once when all their elements are one value. A CRC-32 of the whole
// file comes last.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/graph.h"

namespace dcomp::dcz {

inline constexpr char kMagic[4] = {'D', 'C', 'Z', '1'};
// Written: 2. Read: 1 (no graph: tensors only) and 2.
inline constexpr uint32_t kVersion = 2;
// Longest Huffman code a file may use: bounds a decoder's table at 2^16
// entries (256 KiB), whatever the file says.
inline constexpr int kMaxCodeLength = 16;
// Most elements in one tensor (1 GiB as float32): the only allocation not
// bounded by the file's size is a dense tensor expanded from a sparse one.
inline constexpr uint64_t kMaxElements = uint64_t{1} << 28;

// kFloat16 holds `floats` rounded to IEEE half precision (round to nearest
// even) when written. kConstant (version 2) is a float32 tensor whose
// elements are all one value, stored once: BatchNorm's running statistics
// once folded (batchnorm_folding.h).
enum class Storage : uint8_t { kFloat32 = 0, kInt64 = 1, kShared = 2, kFloat16 = 3, kConstant = 4 };
// kFloat32, kFloat16 and kConstant: the storages whose values are `floats`.
inline bool holds_floats(Storage s) { return s == Storage::kFloat32 || s == Storage::kFloat16 || s == Storage::kConstant; }
// Whether every value has the first one's bit pattern (-0.0 is not 0.0), as
// a kConstant tensor's must.
bool one_bit_pattern(const std::vector<float>& values);
// Most elements of all kConstant tensors of one file together (4 MiB as
// float32): what a few bytes may make a reader allocate.
inline constexpr uint64_t kMaxConstantElements = uint64_t{1} << 20;

// How a tensor's values are entropy-coded.
enum class Coder : uint8_t {
  // The classic storage of versions 1 and 2: a shared tensor's positions and
  // indices in two canonical Huffman streams (gap_coding.h), other tensors'
  // values raw.
  kHuffman = 0,
  // Adaptive binary arithmetic coding (version 2): a shared tensor in its own
  // context-coded stream (adaptive_coding.h), other tensors' values in the
  // file's one dense stream (dense_coding.h).
  kAdaptive = 1,
};

// A pruned, weight-shared tensor: nonzero i sits at flattened position
// positions[i] and has the value codebook[indices[i]]; all else is 0.
struct SharedTensor {
  int bits = 0;                     // index width the codebook was built for, 1..8
  std::vector<float> codebook;      // at most 2^bits finite values
  std::vector<uint32_t> positions;  // strictly ascending
  std::vector<uint8_t> indices;     // one per position, < codebook.size()
};

struct Tensor {
  std::string name;
  std::vector<int64_t> shape;
  Storage storage = Storage::kFloat32;
  Coder coder = Coder::kHuffman;  // how it is stored (kConstant: none, read as kHuffman); decoding gives the same values either way
  std::vector<float> floats;      // kFloat32, kFloat16, kConstant (numel copies); row-major
  std::vector<int64_t> integers;  // kInt64, row-major
  SharedTensor shared;            // kShared
  uint64_t numel() const;
};

struct Model {
  // Free-form (key, value) pairs; dcomp writes "model" (the architecture
  // name), "dataset" and "producer".
  std::vector<std::pair<std::string, std::string>> metadata;
  std::vector<Tensor> tensors;
  // What runs them; empty in version 1 files. When present, every float and
  // shared tensor is read by some operation (int64 ones, such as BN's
  // num_batches_tracked, are training state that no operation reads).
  Graph graph;
  // The value of `key`, or nullptr.
  const std::string* find(const std::string& key) const;
};

// Where one tensor's bytes went, and how close its streams come to the
// entropy of their symbols (n * H, in bits).
struct TensorLayout {
  std::string name;
  Storage storage = Storage::kFloat32;
  Coder coder = Coder::kHuffman;
  uint64_t table_bytes = 0;  // its table entry: name, shape, codebook, code lengths
  uint64_t dense_bytes = 0;  // raw values (kFloat32, kFloat16, kInt64; 0 in the dense stream)
  // kShared: the bits of each part. Huffman: its two streams, exactly.
  // Adaptive: the one stream's bits (padding and flush included), split
  // between the parts in proportion to their model costs.
  uint64_t index_bits = 0, position_bits = 0;
  int gap_bits = 0;  // Huffman: the position alphabet chosen, 2^gap_bits symbols
  // Huffman: the order-0 entropy of each stream's symbols (n * H). Adaptive:
  // the ideal code length under the context models (sum of -log2 p), which
  // the coder's output exceeds only by its precision and flush.
  double index_entropy_bits = 0, position_entropy_bits = 0;
  uint64_t position_table_bits = 0;  // Huffman: the position code's lengths, in the entry
  // Both streams and the position code's table under Han et al.'s relative
  // indices with filler zeros (gaps::filler_scheme_bits), for comparison
  // with index_bits + position_bits + position_table_bits.
  uint64_t filler_scheme_bits = 0;
};
struct Layout {
  uint64_t file_bytes = 0;
  uint64_t header_bytes = 0;  // magic, version, counts, metadata, checksum
  uint64_t graph_bytes = 0;
  uint64_t dense_stream_bytes = 0;  // the adaptive dense stream, with its rates and length
  double dense_stream_model_bits = 0;  // its ideal code length under the models
  std::vector<TensorLayout> tensors;
};

// The file's bytes. Throws std::invalid_argument if `model` breaks the
// invariants stated above.
std::vector<uint8_t> encode(const Model& model, Layout* layout = nullptr);

// Parses and fully validates a file; throws FormatError naming the first
// fault. Work and memory are bounded by `size` (and kMaxElements).
Model decode(const uint8_t* data, size_t size);

// Atomic write; read throws std::runtime_error if the file cannot be read.
void write(const std::string& path, const Model& model, Layout* layout = nullptr);
Model read(const std::string& path);

}  // namespace dcomp::dcz
