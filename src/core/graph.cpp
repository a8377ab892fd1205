#include "core/graph.h"

#include <cmath>
#include <set>
#include <stdexcept>

namespace dcomp::dcz {

namespace {

// What each operation takes: input and tensor counts (ranges), attribute counts.
struct Signature {
  const char* name;
  size_t min_inputs, max_inputs, min_tensors, max_tensors, ints, floats;
};

constexpr size_t kMany = 1 << 16;  // concatenation inputs

const Signature& signature(Op op) {
  static const Signature kSignatures[] = {
      {"conv2d", 1, 1, 1, 2, 7, 0},        {"batch_norm", 1, 1, 4, 4, 0, 1},
      {"relu", 1, 1, 0, 0, 0, 0},          {"clamp", 1, 1, 0, 0, 0, 2},
      {"leaky_relu", 1, 1, 0, 0, 0, 1},    {"sigmoid", 1, 1, 0, 0, 0, 0},
      {"hardswish", 1, 1, 0, 0, 0, 0},     {"add", 2, 2, 0, 0, 0, 1},
      {"mul", 2, 2, 0, 0, 0, 0},           {"concat", 2, kMany, 0, 0, 0, 0},
      {"max_pool2d", 1, 1, 0, 0, 9, 0},    {"avg_pool2d", 1, 1, 0, 0, 8, 0},
      {"global_avg_pool", 1, 1, 0, 0, 0, 0}, {"flatten", 1, 1, 0, 0, 0, 0},
      {"linear", 1, 1, 1, 2, 0, 0},        {"slice", 1, 1, 0, 0, 4, 0},
      {"pad", 1, 1, 0, 0, 6, 1},
  };
  return kSignatures[uint8_t(op) - 1];
}

// Kernel sizes, strides, dilations, groups and paddings beyond this are not
// a network's: refusing them bounds the runtime's work on hostile files.
constexpr int64_t kMaxAttribute = 4096;

void check_range(const std::string& where, const char* what, int64_t v, int64_t lo, int64_t hi) {
  if (v < lo || v > hi)
    throw std::invalid_argument(where + what + " " + std::to_string(v) + " outside [" + std::to_string(lo) + ", " +
                                std::to_string(hi) + "]");
}

void check_attributes(const Node& n, const std::string& where) {
  const auto& i = n.ints;
  const auto& f = n.floats;
  const auto positive = [&](const char* what, int64_t v) { check_range(where, what, v, 1, kMaxAttribute); };
  const auto padding = [&](const char* what, int64_t v) { check_range(where, what, v, 0, kMaxAttribute); };
  const auto flag = [&](const char* what, int64_t v) { check_range(where, what, v, 0, 1); };
  for (float v : f)
    if (std::isnan(v)) throw std::invalid_argument(where + "attribute is NaN");
  switch (n.op) {
    case Op::kConv2d:
      positive("stride", i[0]), positive("stride", i[1]), padding("padding", i[2]), padding("padding", i[3]);
      positive("dilation", i[4]), positive("dilation", i[5]), positive("groups", i[6]);
      break;
    case Op::kBatchNorm:
      if (!(f[0] > 0) || !std::isfinite(f[0])) throw std::invalid_argument(where + "eps must be positive");
      break;
    case Op::kClamp:
      if (!(f[0] <= f[1])) throw std::invalid_argument(where + "min above max");
      break;
    case Op::kMaxPool2d:
      positive("kernel", i[0]), positive("kernel", i[1]), positive("stride", i[2]), positive("stride", i[3]);
      padding("padding", i[4]), padding("padding", i[5]), positive("dilation", i[6]), positive("dilation", i[7]);
      flag("ceil_mode", i[8]);
      break;
    case Op::kAvgPool2d:
      positive("kernel", i[0]), positive("kernel", i[1]), positive("stride", i[2]), positive("stride", i[3]);
      padding("padding", i[4]), padding("padding", i[5]), flag("ceil_mode", i[6]), flag("count_include_pad", i[7]);
      break;
    case Op::kSlice:
      check_range(where, "dim", i[0], 1, 3);
      positive("step", i[3]);
      break;
    case Op::kPad:
      for (int64_t v : i) padding("padding", v);
      if (!std::isfinite(f[0])) throw std::invalid_argument(where + "pad value not finite");
      break;
    case Op::kAdd:
    case Op::kLeakyRelu:
      if (!std::isfinite(f[0])) throw std::invalid_argument(where + "attribute not finite");
      break;
    default:
      break;
  }
}

}  // namespace

const char* op_name(Op op) {
  if (uint8_t(op) < 1 || uint8_t(op) > kLastOp) return "unknown";
  return signature(op).name;
}

void validate(const Graph& graph, const std::vector<std::string>& tensor_names) {
  if (graph.nodes.empty()) throw std::invalid_argument("the graph has no operations");
  const std::set<std::string> names(tensor_names.begin(), tensor_names.end());
  for (size_t k = 0; k < graph.nodes.size(); ++k) {
    const Node& n = graph.nodes[k];
    if (uint8_t(n.op) < 1 || uint8_t(n.op) > kLastOp)
      throw std::invalid_argument("graph node " + std::to_string(k) + ": unknown operation code " +
                                  std::to_string(unsigned(n.op)));
    const Signature& s = signature(n.op);
    const std::string where = "graph node " + std::to_string(k) + " (" + s.name + "): ";
    if (n.inputs.size() < s.min_inputs || n.inputs.size() > s.max_inputs)
      throw std::invalid_argument(where + "takes " + std::to_string(s.min_inputs) + (s.max_inputs > s.min_inputs ? " or more" : "") +
                                  " inputs, not " + std::to_string(n.inputs.size()));
    if (n.tensors.size() < s.min_tensors || n.tensors.size() > s.max_tensors)
      throw std::invalid_argument(where + "wrong number of tensors");
    if (n.ints.size() != s.ints || n.floats.size() != s.floats)
      throw std::invalid_argument(where + "wrong number of attributes");
    for (uint32_t v : n.inputs)
      if (v > k) throw std::invalid_argument(where + "reads value " + std::to_string(v) + " before it is written");
    for (const std::string& t : n.tensors)
      if (!names.count(t)) throw std::invalid_argument(where + "names no tensor of the file ('" + t + "')");
    check_attributes(n, where);
  }
  if (graph.output < 1 || graph.output > graph.nodes.size())
    throw std::invalid_argument("the graph's output is not a value an operation writes");
}

}  // namespace dcomp::dcz
