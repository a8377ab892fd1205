// dcomp quantize: weight sharing by per-layer k-means. The output is a plain
// state_dict whose conv and fc weights take at most 2^bits distinct values
// per layer (zeros where pruned); `dcomp finetune --tie-weights` trains the
// shared values.
#include <fmt/format.h>

#include <memory>

#include "cli/commands.h"
#include "cli/evaluation.h"
#include "cli/model_io.h"
#include "core/atomic_file.h"
#include "libtorch/coding_report.h"
#include "libtorch/runtime_info.h"
#include "libtorch/state_dict.h"
#include "libtorch/train.h"
#include "libtorch/weight_sharing.h"

namespace dcomp::cli {
namespace {

struct QuantizeOptions {
  CommonOptions common;
  SplitOptions split;
  std::string model = "resnet20", weights, out, spec_file, init = "linear";
  bool as_state_dict = false;
  ShareSpec spec;
  std::vector<std::string> layer_bits;  // PATTERN=BITS
};

void run_quantize(QuantizeOptions o) {
  apply_threads(o.common);
  if (!o.spec_file.empty()) o.spec = share_spec_from_json(read_json_file(o.spec_file));
  else o.spec.init = parse_kmeans_init(o.init);
  for (const std::string& item : o.layer_bits) {
    const size_t eq = item.rfind('=');
    if (eq == std::string::npos) throw std::invalid_argument("--layer-bits takes PATTERN=BITS, not '" + item + "'");
    o.spec.layer_bits.emplace_back(item.substr(0, eq), std::stoi(item.substr(eq + 1)));
  }
  auto model = load_model(o.weights, o.model);
  std::vector<SharedLayer> shared;
  if (o.spec.hessian_images > 0) {  // the data only where the weighting needs it
    const DatasetInfo info = model_data(*model, o.common);
    const torch::Device device = resolve_device(o.common.device);
    model->to(device);
    shared = share_weights(*model, o.spec, load_data(info, o.common, o.split.validation_size).train, info, device);
  } else {
    shared = share_weights(*model, o.spec);
  }
  for (const SharedLayer& layer : shared)
    fmt::print("{:<26} {} bits, codebook [{:.4f} .. {:.4f}]\n", layer.name, layer.bits, layer.codebook.front(),
               layer.codebook.back());
  nlohmann::json metadata = {{"model", o.model},         {"quantized_from", o.weights}, {"weight_sharing", to_json(o.spec)},
                             {"git_commit", git_commit()}, {"created", utc_timestamp()}};
  if (const auto eval = evaluate_on_split(*model, o.common, o.split)) {
    fmt::print("top-1 on {} after weight sharing: {:.2f}%\n", o.split.split, 100 * eval->top1);
    metadata[o.split.split + "_top1"] = eval->top1;
  }
  if (o.out.empty()) return;
  save_model(*model, o.out, o.as_state_dict);
  write_file_atomic(sidecar_path(o.out), metadata.dump(2) + "\n");
}

struct HuffmanOptions {
  std::string model = "resnet20", weights, artifacts, json_out;
};

void run_huffman(const HuffmanOptions& o) {
  auto model = load_model(o.weights, o.model);
  const std::vector<SharedLayer> layers = shared_layers_from_values(*model);
  const CodingReport report = huffman_report(layers);
  fmt::print("{}", format_table(report));
  if (!o.json_out.empty()) write_file_atomic(o.json_out, to_json(report).dump(2) + "\n");
  if (!o.artifacts.empty()) write_coding_artifacts(o.artifacts, model_label(*model, o.weights), layers, report);
}

}  // namespace

void add_huffman_command(CLI::App& app) {
  auto o = std::make_shared<HuffmanOptions>();
  CLI::App* cmd = app.add_subcommand("huffman", "Huffman coding of a weight-shared model's indices: bits per weight");
  cmd->add_option("weights", o->weights, "Weight-shared model (from dcomp quantize)")->required();
  cmd->add_option("--model", o->model, "Architecture of a state_dict")->capture_default_str();
  cmd->add_option("--json", o->json_out, "Write the report as JSON");
  cmd->add_option("--artifacts", o->artifacts, "Write codebook, huffman_encoding and huffman_freq .npy files here");
  cmd->callback([o] { run_huffman(*o); });
}

void add_quantize_command(CLI::App& app) {
  auto o = std::make_shared<QuantizeOptions>();
  CLI::App* cmd = app.add_subcommand("quantize", "Weight sharing: k-means over each layer's nonzero weights");
  add_common_options(*cmd, o->common);
  cmd->add_option("weights", o->weights, "Model (pruned or not): TorchScript, or a state_dict .pt of --model")->required();
  cmd->add_option("--model", o->model, "Architecture of a state_dict")->capture_default_str();
  cmd->add_option("--conv-bits", o->spec.conv_bits, "Bits per conv weight (2^bits shared values)")
      ->check(CLI::Range(1, 8))->capture_default_str();
  cmd->add_option("--fc-bits", o->spec.fc_bits, "Bits per fc weight")->check(CLI::Range(1, 8))->capture_default_str();
  cmd->add_option("--layer-bits", o->layer_bits, "Per-layer overrides PATTERN=BITS, first match wins")->delimiter(',');
  cmd->add_option("--init", o->init, "k-means start")->check(CLI::IsMember({"linear", "random", "density", "kmeans++"}))
      ->capture_default_str();
  cmd->add_option("--seed", o->spec.seed, "Seed for random and k-means++ starts")->capture_default_str();
  cmd->add_option("--quantizer", o->spec.quantizer,
                  "kmeans; ecsq: entropy-constrained clusters from k-means'; uniform: levels at multiples "
                  "of a step (docs/weight_sharing.md)")
      ->check(CLI::IsMember({"kmeans", "ecsq", "uniform"}))
      ->capture_default_str();
  cmd->add_option("--lambda", o->spec.lambda, "ecsq's rate weight, in units of each layer's weight variance")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--step", o->spec.step, "uniform's step, in units of each layer's weight RMS (0: span the range)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--hessian-images", o->spec.hessian_images,
                  "Hessian-weighted k-means: the diagonal from squared gradients over this many training images "
                  "(0: plain k-means)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--spec", o->spec_file, "JSON weight-sharing spec instead of the flags")->check(CLI::ExistingFile);
  add_split_options(*cmd, o->split, /*allow_none=*/true);
  cmd->add_option("--out", o->out, "Weight-shared model, in the input's format");
  add_state_dict_flag(*cmd, o->as_state_dict);
  cmd->callback([o] { run_quantize(*o); });
}

}  // namespace dcomp::cli
