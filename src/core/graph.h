// The network as a graph, stored in the compressed file (docs/format.md,
// "Graph"): an ordered list of operations on activations of one image.
// Values are numbered: value 0 is the input image (C, H, W); node i writes
// value i + 1, and reads only values numbered below its own, so a stored
// graph is acyclic and each value is written once by construction. Weights
// are the file's tensors, named.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace dcomp::dcz {

// Attributes per operation, in `ints` and `floats` (tensors in brackets,
// optional ones with ?). Dimensions count as PyTorch's do on (N, C, H, W).
enum class Op : uint8_t {
  // [weight (out, in/groups, kh, kw), bias?] ints: stride h, w, padding h, w, dilation h, w, groups
  kConv2d = 1,
  // [weight, bias, running_mean, running_var] floats: eps
  kBatchNorm = 2,
  kRelu = 3,
  kClamp = 4,      // floats: min, max (ReLU6, hardtanh)
  kLeakyRelu = 5,  // floats: negative slope
  kSigmoid = 6,
  kHardSwish = 7,
  kAdd = 8,     // a + alpha * b, same shapes; floats: alpha
  kMul = 9,     // a * b, b of a's shape or (C, 1, 1): a channel vector
  kConcat = 10, // along channels, two or more inputs
  kMaxPool2d = 11,  // ints: kernel h, w, stride h, w, padding h, w, dilation h, w, ceil_mode
  kAvgPool2d = 12,  // ints: kernel h, w, stride h, w, padding h, w, ceil_mode, count_include_pad
  kGlobalAvgPool = 13,  // adaptive average pooling to 1x1
  kFlatten = 14,        // (C, H, W) -> (C * H * W, 1, 1): view(batch, -1), flatten(x, 1)
  kLinear = 15,         // [weight (out, in), bias?] on a flattened input
  kSlice = 16,          // ints: dim (1..3), start, end, step, as Python's x[start:end:step]
  kPad = 17,            // ints: left, right, top, bottom, front, back (W, H, C); floats: value
};
inline constexpr uint8_t kLastOp = uint8_t(Op::kPad);

// "conv2d", "batch_norm", ...: for messages and docs.
const char* op_name(Op op);

struct Node {
  Op op = Op::kRelu;
  std::vector<uint32_t> inputs;      // values
  std::vector<std::string> tensors;  // the file's tensors, by name
  std::vector<int64_t> ints;
  std::vector<float> floats;
};

struct Graph {
  std::vector<Node> nodes;
  uint32_t output = 0;  // the value holding the logits
  bool empty() const { return nodes.empty(); }
};

// Checks what a graph says about itself: known operations with the inputs,
// tensors and attributes they take, in-range values and attributes, and
// every named tensor in `tensor_names`. Shapes are the runtime's to check,
// against the input. Throws std::invalid_argument naming the node.
void validate(const Graph& graph, const std::vector<std::string>& tensor_names);

}  // namespace dcomp::dcz
