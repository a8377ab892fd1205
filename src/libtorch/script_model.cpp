#include "libtorch/script_model.h"

#include <torch/csrc/jit/ir/ir.h>
#include <torch/csrc/jit/passes/inliner.h>

#include <algorithm>
#include <functional>
#include <map>
#include <set>

#include "core/atomic_file.h"
#include "core/first_line.h"
#include "libtorch/graph_export.h"

namespace dcomp {

namespace {

using torch::jit::Block;
using torch::jit::Node;
using torch::jit::Value;

const char* const kExtraFile = "dcomp.json";

void visit_nodes(Block* block, const std::function<void(Node*)>& visit) {
  for (Node* node : block->nodes()) {
    visit(node);
    for (Block* inner : node->blocks()) visit_nodes(inner, visit);
  }
}

// "layer1.0.conv1.weight" for a value read by a chain of prim::GetAttr from
// the graph's `self`; nothing for any other value.
std::optional<std::string> attribute_path(const Value* value, const Value* self) {
  std::vector<std::string> parts;
  while (value->node()->kind() == c10::prim::GetAttr) {
    parts.push_back(value->node()->s(c10::attr::name));
    value = value->node()->input(0);
  }
  if (value != self || parts.empty()) return std::nullopt;
  std::string path;
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) path += (path.empty() ? "" : ".") + *it;
  return path;
}

std::string kind_of(c10::Symbol op) {
  static const std::set<c10::Symbol> kConvolutions = {
      c10::Symbol::fromQualString("aten::conv1d"), c10::Symbol::fromQualString("aten::conv2d"),
      c10::Symbol::fromQualString("aten::conv3d"), c10::Symbol::fromQualString("aten::_convolution"),
      c10::Symbol::fromQualString("aten::convolution")};
  if (kConvolutions.count(op)) return "conv";
  if (op == c10::Symbol::fromQualString("aten::linear")) return "fc";
  return "";
}

// The input of `op` that is its training flag, for the ops whose mode
// tracing can bake in; -1 for any other op.
int training_input(c10::Symbol op) {
  if (op == c10::Symbol::fromQualString("aten::batch_norm")) return 5;
  if (op == c10::Symbol::fromQualString("aten::dropout") || op == c10::Symbol::fromQualString("aten::feature_dropout"))
    return 2;
  return -1;
}

}  // namespace

std::unique_ptr<ScriptModel> ScriptModel::load(const std::string& path) {
  torch::jit::ExtraFilesMap extra{{kExtraFile, ""}};
  torch::jit::Module module;
  try {
    module = torch::jit::load(path, torch::kCPU, extra);
  } catch (const c10::Error& e) {
    throw std::runtime_error(path + ": not a loadable TorchScript module (" + first_line(e.msg()) + ")");
  } catch (const std::exception& e) {
    throw std::runtime_error(path + ": not a loadable TorchScript module (" + first_line(e.what()) + ")");
  }
  auto model = std::unique_ptr<ScriptModel>(new ScriptModel(path, module));
  if (!extra[kExtraFile].empty()) {
    try {
      const nlohmann::json j = nlohmann::json::parse(extra[kExtraFile]);
      if (j.contains("data")) model->data_ = dataset_info_from_json(j.at("data"));
    } catch (const std::exception& e) {
      throw std::runtime_error(path + ": malformed extra/" + kExtraFile + " (" + first_line(e.what()) + ")");
    }
  }
  return model;
}

ScriptModel::ScriptModel(std::string path, torch::jit::Module module)
    : path_(std::move(path)), module_(std::move(module)) {
  const auto forward = module_.find_method("forward");
  if (!forward) throw std::runtime_error(path_ + ": the TorchScript module has no forward method");
  if (module_.parameters().size() == 0)
    throw std::runtime_error(path_ + ": the TorchScript module has no parameters (frozen by torch.jit.freeze?); "
                             "save it before freezing");
  // The layers are read off the forward graph with every submodule call
  // inlined: the weight input of each convolution and linear op, traced back
  // through its attribute reads to a parameter.
  std::shared_ptr<torch::jit::Graph> graph = forward->graph()->copy();
  torch::jit::Inline(*graph);
  const Value* self = graph->inputs().at(0);
  std::map<std::string, std::string> kinds;
  visit_nodes(graph->block(), [&](Node* node) {
    const std::string kind = kind_of(node->kind());
    if (!kind.empty() && node->inputs().size() > 1)
      if (const auto name = attribute_path(node->input(1), self)) kinds.emplace(*name, kind);
    const int flag = training_input(node->kind());
    if (flag >= 0 && size_t(flag) < node->inputs().size() && node->input(flag)->node()->kind() == c10::prim::Constant)
      if (const auto value = torch::jit::toIValue(node->input(flag)); value && value->isBool())
        baked_training_ = value->toBool();
  });
  std::set<std::string> parameter_names;
  for (const auto& p : module_.named_parameters(/*recurse=*/true)) parameter_names.insert(p.name);
  for (const auto& [name, tensor] : state_dict()) {
    const auto it = kinds.find(name);
    if (it != kinds.end() && parameter_names.count(name)) prunable_.emplace_back(name, it->second);
  }
}

torch::Tensor ScriptModel::forward(const torch::Tensor& inputs) {
  // Channels-last (NHWC) activations, as for the built-in networks: oneDNN's
  // convolutions run faster in it (docs/benchmarks.md).
  const bool nhwc = inputs.dim() == 4;
  const c10::IValue out = module_.forward({nhwc ? inputs.contiguous(torch::MemoryFormat::ChannelsLast) : inputs});
  if (!out.isTensor())
    throw std::runtime_error(path_ + ": forward returns " + out.tagKind() + ", not a tensor of logits (batch, classes)");
  return out.toTensor();
}

void ScriptModel::train(bool on) {
  if (baked_training_ && *baked_training_ != on)
    throw std::runtime_error(path_ + ": traced in " + (*baked_training_ ? "train" : "eval") +
                             " mode, so its BatchNorm/dropout run in that mode only (tracing makes the training flag "
                             "a constant) and cannot " + (on ? "train" : "evaluate") +
                             "; save the model with torch.jit.script instead");
  module_.train(on);
}

StateDict ScriptModel::state_dict() const {
  StateDict out;
  for (const auto& item : module_.named_modules()) {
    const std::string prefix = item.name.empty() ? "" : item.name + ".";
    for (const auto& p : item.value.named_parameters(/*recurse=*/false)) out.emplace_back(prefix + p.name, p.value);
    for (const auto& b : item.value.named_buffers(/*recurse=*/false)) out.emplace_back(prefix + b.name, b.value);
  }
  return out;
}

std::vector<torch::Tensor> ScriptModel::parameters() const {
  std::vector<torch::Tensor> out;
  for (const torch::Tensor& p : module_.parameters()) out.push_back(p);
  return out;
}

std::vector<LayerWeight> ScriptModel::prunable_weights() const {
  // Looked up again on each call: to() and load replace the tensors.
  std::map<std::string, torch::Tensor> parameters;
  for (const auto& p : module_.named_parameters(/*recurse=*/true)) parameters.emplace(p.name, p.value);
  std::vector<LayerWeight> out;
  for (const auto& [name, kind] : prunable_) out.push_back({name, kind, parameters.at(name)});
  return out;
}

void ScriptModel::save(const std::string& path) const {
  torch::jit::Module copy = module_.clone();
  copy.to(torch::kCPU);
  copy.eval();
  nlohmann::json extra = {{"producer", "dcomp " DCOMP_VERSION}};
  if (data_) extra["data"] = to_json(*data_);
  const std::string temporary = temporary_path_for(path);
  copy.save(temporary, {{kExtraFile, extra.dump()}});
  commit_temporary(temporary, path);
}

dcz::Graph ScriptModel::graph() const { return export_graph(module_); }

}  // namespace dcomp
