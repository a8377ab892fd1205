#include "libtorch/graph_export.h"

#include <torch/csrc/jit/ir/constants.h>
#include <torch/csrc/jit/ir/ir.h>
#include <torch/csrc/jit/passes/dead_code_elimination.h>
#include <torch/csrc/jit/passes/freeze_module.h>

#include <fmt/format.h>

#include <limits>
#include <map>
#include <optional>

#include "core/first_line.h"

namespace dcomp {

uint32_t GraphBuilder::add(dcz::Op op, std::vector<uint32_t> inputs, std::vector<std::string> tensors,
                           std::vector<int64_t> ints, std::vector<float> floats) {
  nodes_.push_back({op, std::move(inputs), std::move(tensors), std::move(ints), std::move(floats)});
  return uint32_t(nodes_.size());
}

namespace {

// A layer's tensors: `name`.weight, and `name`.bias if it has one.
std::vector<std::string> weight_and_bias(const std::string& name, bool bias) {
  std::vector<std::string> tensors{name + ".weight"};
  if (bias) tensors.push_back(name + ".bias");
  return tensors;
}

}  // namespace

uint32_t GraphBuilder::conv2d(uint32_t x, const std::string& name, bool bias, int64_t stride, int64_t padding) {
  return add(dcz::Op::kConv2d, {x}, weight_and_bias(name, bias), {stride, stride, padding, padding, 1, 1, 1});
}

uint32_t GraphBuilder::batch_norm(uint32_t x, const std::string& name, float eps) {
  return add(dcz::Op::kBatchNorm, {x},
             {name + ".weight", name + ".bias", name + ".running_mean", name + ".running_var"}, {}, {eps});
}

uint32_t GraphBuilder::linear(uint32_t x, const std::string& name, bool bias) {
  return add(dcz::Op::kLinear, {x}, weight_and_bias(name, bias));
}

dcz::Graph GraphBuilder::finish(uint32_t output) const { return {nodes_, output}; }

namespace {

using torch::jit::Node;
using torch::jit::Value;

c10::Symbol aten(const char* name) { return c10::Symbol::aten(name); }

// Where a node came from in the user's Python: "model.py:12". A loaded
// module's ranges are in its serialized code; the debug records saved with
// it lead back, save after save, to the Python it was scripted from.
std::string source_of(const Node* node) {
  torch::jit::SourceRange range = node->sourceRange();
  for (int hops = 0; hops < 64; ++hops) {
    const auto original = range.findSourceRangeThatGenerated();
    if (!original) break;
    range = *original;
  }
  if (const auto location = range.file_line_col())
    return fmt::format("{}:{}", std::get<0>(*location), std::get<1>(*location));
  return "an unknown line";
}

[[noreturn]] void refuse(const Node* node, const std::string& why) {
  throw UnsupportedGraph(fmt::format("{} at {}: {}", node->kind().toQualString(), source_of(node), why));
}

// A scripted graph keeps its input checks (BatchNorm's "expected 4D input",
// adaptive pooling's rank check) as prim::If nodes with a raising branch and
// no outputs: they hold for any input the runtime is given, so they go.
void remove_input_checks(torch::jit::Block* block) {
  for (auto it = block->nodes().begin(); it != block->nodes().end();) {
    Node* node = *it++;
    if (node->kind() != c10::prim::If || !node->outputs().empty()) continue;
    bool raises = false;
    for (torch::jit::Block* branch : node->blocks())
      for (Node* inner : branch->nodes()) raises |= inner->kind() == c10::prim::RaiseException;
    if (raises) node->destroy();
  }
}

class Exporter {
 public:
  Exporter(std::map<const void*, std::string> tensor_names, std::map<std::string, int64_t> ranks)
      : tensor_names_(std::move(tensor_names)), ranks_(std::move(ranks)) {}

  dcz::Graph run(torch::jit::Graph& graph) {
    if (graph.inputs().size() != 2) throw UnsupportedGraph("forward must take one input tensor");
    values_[graph.inputs()[1]] = GraphBuilder::kInput;
    for (Node* node : graph.nodes()) visit(node);
    if (graph.outputs().size() != 1 || !values_.count(graph.outputs()[0]))
      throw UnsupportedGraph("forward must return one tensor of logits");
    return builder_.finish(values_.at(graph.outputs()[0]));
  }

 private:
  std::optional<c10::IValue> constant(const Value* v) const { return torch::jit::toIValue(v); }

  uint32_t activation(const Node* node, size_t i) const {
    const auto it = values_.find(node->input(i));
    if (it == values_.end()) refuse(node, fmt::format("input {} is not computed from the image", i));
    return it->second;
  }

  // A weight or BatchNorm statistic: one of the module's named tensors.
  std::string tensor(const Node* node, size_t i) const {
    const auto v = constant(node->input(i));
    if (!v || !v->isTensor()) refuse(node, fmt::format("input {} is not one of the module's tensors", i));
    const auto it = tensor_names_.find(v->toTensor().data_ptr());
    if (it == tensor_names_.end()) refuse(node, fmt::format("input {} is computed from the module's tensors at run time", i));
    return it->second;
  }
  bool is_none(const Node* node, size_t i) const {
    const auto v = constant(node->input(i));
    return v && v->isNone();
  }

  int64_t integer(const Node* node, size_t i) const {
    const auto v = constant(node->input(i));
    if (!v || !v->isInt()) refuse(node, fmt::format("input {} must be a constant integer", i));
    return v->toInt();
  }
  double number(const Node* node, size_t i) const {
    const auto v = constant(node->input(i));
    if (!v || !(v->isDouble() || v->isInt())) refuse(node, fmt::format("input {} must be a constant number", i));
    return v->isDouble() ? v->toDouble() : double(v->toInt());
  }
  bool flag(const Node* node, size_t i) const {
    const auto v = constant(node->input(i));
    if (!v || !v->isBool()) refuse(node, fmt::format("input {} must be a constant bool", i));
    return v->toBool();
  }
  // A constant int list of `n` values (one value standing for all n, as
  // PyTorch allows for kernel sizes and strides).
  std::vector<int64_t> pair(const Node* node, size_t i, size_t n = 2) const {
    const auto v = constant(node->input(i));
    if (v && v->isInt()) return std::vector<int64_t>(n, v->toInt());
    if (!v || !v->isIntList()) refuse(node, fmt::format("input {} must be a constant int list", i));
    std::vector<int64_t> list = v->toIntVector();
    if (list.size() == 1) list.assign(n, list[0]);
    if (list.size() != n) refuse(node, fmt::format("input {} must have {} values", i, n));
    return list;
  }
  // A pooling stride (input 2): an empty list means the kernel's, as in PyTorch.
  std::vector<int64_t> stride(const Node* node, const std::vector<int64_t>& kernel) const {
    const auto v = constant(node->input(2));
    return v && v->isIntList() && v->toIntVector().empty() ? kernel : pair(node, 2);
  }
  // A value that is the batch size: x.size(0), through the casts tracing adds.
  bool is_batch_size(const Value* v) const {
    const Node* n = v->node();
    if (n->kind() == aten("size") && n->inputs().size() == 2) {
      const auto dim = constant(n->input(1));
      return dim && dim->isInt() && dim->toInt() == 0;
    }
    if (n->kind() == c10::prim::NumToTensor || n->kind() == aten("Int")) return is_batch_size(n->input(0));
    return false;
  }
  // x.view(batch, -1) or x.reshape(batch, -1): a flatten.
  bool is_flatten_shape(const Value* v) const {
    const Node* n = v->node();
    if (n->kind() != c10::prim::ListConstruct || n->inputs().size() != 2) return false;
    const auto last = constant(n->input(1));
    return is_batch_size(n->input(0)) && last && last->isInt() && last->toInt() == -1;
  }
  // A dimension of (N, C, H, W), negative ones counted from the end.
  int64_t dim(const Node* node, size_t i) const {
    const int64_t d = integer(node, i);
    return d < 0 ? d + 4 : d;
  }

  void emit(const Node* node, dcz::Op op, std::vector<uint32_t> inputs, std::vector<std::string> tensors = {},
            std::vector<int64_t> ints = {}, std::vector<float> floats = {}) {
    values_[node->output()] = builder_.add(op, std::move(inputs), std::move(tensors), std::move(ints), std::move(floats));
  }
  void same(const Node* node) { values_[node->output()] = activation(node, 0); }

  void conv(const Node* node, size_t groups_input) {
    const std::string weight = tensor(node, 1);
    if (ranks_.at(weight) != 4) refuse(node, "only 2-D convolutions run");
    std::vector<std::string> tensors{weight};
    if (!is_none(node, 2)) tensors.push_back(tensor(node, 2));
    const auto padding = constant(node->input(4));
    if (padding && padding->isString()) refuse(node, "give the padding as numbers, not '" + padding->toStringRef() + "'");
    const std::vector<int64_t> s = pair(node, 3), p = pair(node, 4), d = pair(node, 5);
    emit(node, dcz::Op::kConv2d, {activation(node, 0)}, tensors, {s[0], s[1], p[0], p[1], d[0], d[1], integer(node, groups_input)});
  }

  void visit(const Node* node) {
    const c10::Symbol k = node->kind();
    const auto is = [&](std::initializer_list<const char*> names) {
      for (const char* n : names)
        if (k == aten(n)) return true;
      return false;
    };
    if (k == c10::prim::Constant || k == c10::prim::ListConstruct || k == c10::prim::NumToTensor ||
        is({"size", "Int"}))
      return;  // read where they are used
    if (k == aten("conv2d")) return conv(node, 6);
    if (is({"_convolution", "convolution"})) {
      if (flag(node, 6)) refuse(node, "transposed convolutions do not run");
      return conv(node, 8);
    }
    if (k == aten("batch_norm")) {
      if (flag(node, 5)) refuse(node, "BatchNorm is in training mode (traced in train mode?): script the model, or trace it in eval mode");
      if (is_none(node, 1) || is_none(node, 2)) refuse(node, "BatchNorm without affine weights does not run");
      if (is_none(node, 3)) refuse(node, "BatchNorm without running statistics does not run");
      return emit(node, dcz::Op::kBatchNorm, {activation(node, 0)},
                  {tensor(node, 1), tensor(node, 2), tensor(node, 3), tensor(node, 4)}, {}, {float(number(node, 7))});
    }
    if (is({"relu", "relu_"})) return emit(node, dcz::Op::kRelu, {activation(node, 0)});
    if (is({"hardtanh", "hardtanh_"}))
      return emit(node, dcz::Op::kClamp, {activation(node, 0)}, {}, {}, {float(number(node, 1)), float(number(node, 2))});
    if (is({"relu6", "relu6_"})) return emit(node, dcz::Op::kClamp, {activation(node, 0)}, {}, {}, {0.0f, 6.0f});
    if (is({"leaky_relu", "leaky_relu_"}))
      return emit(node, dcz::Op::kLeakyRelu, {activation(node, 0)}, {}, {}, {float(number(node, 1))});
    if (is({"sigmoid", "sigmoid_"})) return emit(node, dcz::Op::kSigmoid, {activation(node, 0)});
    if (is({"hardswish", "hardswish_"})) return emit(node, dcz::Op::kHardSwish, {activation(node, 0)});
    if (is({"add", "add_"})) {
      const double alpha = node->inputs().size() > 2 ? number(node, 2) : 1.0;
      return emit(node, dcz::Op::kAdd, {activation(node, 0), activation(node, 1)}, {}, {}, {float(alpha)});
    }
    if (is({"mul", "mul_"})) return emit(node, dcz::Op::kMul, {activation(node, 0), activation(node, 1)});
    if (k == aten("cat")) {
      const Node* list = node->input(0)->node();
      if (list->kind() != c10::prim::ListConstruct) refuse(node, "the tensors must be listed in the call");
      if (dim(node, 1) != 1) refuse(node, "only concatenation along channels runs");
      std::vector<uint32_t> inputs;
      for (size_t i = 0; i < list->inputs().size(); ++i) inputs.push_back(activation(list, i));
      if (inputs.size() == 1) return void(values_[node->output()] = inputs[0]);
      return emit(node, dcz::Op::kConcat, inputs);
    }
    if (k == aten("max_pool2d")) {
      const std::vector<int64_t> kernel = pair(node, 1), s = stride(node, kernel), p = pair(node, 3), d = pair(node, 4);
      return emit(node, dcz::Op::kMaxPool2d, {activation(node, 0)}, {},
                  {kernel[0], kernel[1], s[0], s[1], p[0], p[1], d[0], d[1], int64_t(flag(node, 5))});
    }
    if (k == aten("avg_pool2d")) {
      const std::vector<int64_t> kernel = pair(node, 1), s = stride(node, kernel), p = pair(node, 3);
      if (!is_none(node, 6)) refuse(node, "divisor_override does not run");
      return emit(node, dcz::Op::kAvgPool2d, {activation(node, 0)}, {},
                  {kernel[0], kernel[1], s[0], s[1], p[0], p[1], int64_t(flag(node, 4)), int64_t(flag(node, 5))});
    }
    if (k == aten("adaptive_avg_pool2d")) {
      if (pair(node, 1) != std::vector<int64_t>{1, 1}) refuse(node, "only adaptive pooling to 1x1 runs");
      return emit(node, dcz::Op::kGlobalAvgPool, {activation(node, 0)});
    }
    if (k == aten("flatten")) {
      if (integer(node, 1) != 1 || (integer(node, 2) != -1 && integer(node, 2) != 3))
        refuse(node, "only flatten(x, 1) runs");
      return emit(node, dcz::Op::kFlatten, {activation(node, 0)});
    }
    if (is({"view", "reshape"})) {
      if (!is_flatten_shape(node->input(1))) refuse(node, "only x.view(x.size(0), -1) runs");
      return emit(node, dcz::Op::kFlatten, {activation(node, 0)});
    }
    if (k == aten("linear")) {
      std::vector<std::string> tensors{tensor(node, 1)};
      if (!is_none(node, 2)) tensors.push_back(tensor(node, 2));
      return emit(node, dcz::Op::kLinear, {activation(node, 0)}, tensors);
    }
    if (is({"dropout", "dropout_", "feature_dropout", "feature_dropout_", "alpha_dropout"})) {
      if (flag(node, 2)) refuse(node, "dropout is in training mode (traced in train mode?)");
      return same(node);
    }
    if (is({"contiguous", "detach"})) return same(node);
    if (k == aten("slice")) {
      constexpr int64_t kEnd = std::numeric_limits<int64_t>::max();
      const int64_t d = dim(node, 1), start = is_none(node, 2) ? 0 : integer(node, 2),
                    end = is_none(node, 3) ? kEnd : integer(node, 3), step = integer(node, 4);
      if (d == 0) {
        if (start != 0 || end != kEnd || step != 1) refuse(node, "slicing the batch does not run");
        return same(node);
      }
      if (d < 1 || d > 3 || step < 1) refuse(node, "slices run on dimensions 1 to 3 with a positive step");
      return emit(node, dcz::Op::kSlice, {activation(node, 0)}, {}, {d, start, end, step});
    }
    if (is({"pad", "constant_pad_nd"})) {
      if (k == aten("pad")) {
        const auto mode = constant(node->input(2));
        if (!mode || !mode->isString() || mode->toStringRef() != "constant") refuse(node, "only constant padding runs");
      }
      const size_t value_input = k == aten("pad") ? 3 : 2;
      const auto v = constant(node->input(1));
      if (!v || !v->isIntList()) refuse(node, "the padding must be constant");
      std::vector<int64_t> amounts = v->toIntVector();
      if (amounts.size() % 2 != 0 || amounts.size() > 6) refuse(node, "padding runs on the last three dimensions");
      for (int64_t a : amounts)
        if (a < 0) refuse(node, "negative padding does not run");
      amounts.resize(6, 0);
      const float value = is_none(node, value_input) ? 0.0f : float(number(node, value_input));
      return emit(node, dcz::Op::kPad, {activation(node, 0)}, {}, amounts, {value});
    }
    if (k == c10::prim::If || k == c10::prim::Loop) refuse(node, "control flow that depends on the input does not run");
    refuse(node, "not an operation the runtime runs (docs/graph.md lists them)");
  }

  std::map<const void*, std::string> tensor_names_;
  std::map<std::string, int64_t> ranks_;
  std::map<const Value*, uint32_t> values_;
  GraphBuilder builder_;
};

}  // namespace

dcz::Graph export_graph(const torch::jit::Module& module) {
  torch::NoGradGuard no_grad;
  // A copy whose every parameter and buffer holds its own number: freezing
  // pools equal constants, and in a fresh model many tensors are equal
  // (BatchNorm's ones and zeros); marked, each constant the frozen graph
  // reads is one named tensor, found by its storage. The values themselves
  // come from the state_dict, by name.
  torch::jit::Module copy = module.clone();
  copy.eval();
  std::map<const void*, std::string> names;
  std::map<std::string, int64_t> ranks;
  double mark = 0;
  const auto name = [&](const std::string& n, const torch::Tensor& t) {
    if (t.numel() == 0) return;  // no storage to tell it by
    t.fill_(++mark);
    names[t.data_ptr()] = n;
    ranks[n] = t.dim();
  };
  for (const auto& p : copy.named_parameters()) name(p.name, p.value);
  for (const auto& b : copy.named_buffers()) name(b.name, b.value);
  torch::jit::Module frozen;
  try {
    frozen = torch::jit::freeze_module(copy);
  } catch (const c10::Error& e) {
    throw UnsupportedGraph("the module does not freeze: " + first_line(e.msg()));
  }
  const std::shared_ptr<torch::jit::Graph> graph = frozen.get_method("forward").graph();
  remove_input_checks(graph->block());
  torch::jit::EliminateDeadCode(graph);
  return Exporter(std::move(names), std::move(ranks)).run(*graph);
}

}  // namespace dcomp
