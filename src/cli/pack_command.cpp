// dcomp pack / unpack: a weight-shared model to the compressed file (.dcz)
// and back. pack prints (and saves as JSON) the compression figures: the
// seed's formula, the true file ratio, and the entropy bound. A file packed
// from TorchScript unpacks into that module's code again (--like).
#include <fmt/format.h>

#include <memory>

#include "cli/commands.h"
#include "core/atomic_file.h"
#include "cli/model_io.h"
#include "libtorch/compressed_model.h"
#include "libtorch/models.h"
#include "libtorch/script_model.h"

namespace dcomp::cli {
namespace {

struct PackOptions {
  CommonOptions common;
  std::string model = "resnet20", weights, out, json_out, coder = "huffman";
  bool dense_float16 = false, fold_batchnorm = false;
};

void run_pack(const PackOptions& o) {
  auto model = load_model(o.weights, o.model);
  model_data(*model, o.common);  // the input the file describes
  const FileReport report =
      pack(*model, o.out,
           {o.dense_float16 ? dcz::Storage::kFloat16 : dcz::Storage::kFloat32, parse_coder(o.coder), o.fold_batchnorm});
  fmt::print("{}", format_table(report));
  fmt::print("wrote {} ({} bytes; read back as written)\n", o.out, report.bytes.file);
  nlohmann::json j = to_json(report);
  j.update({{"model", model_label(*model, o.weights)}, {"weights", o.weights}, {"command", invocation()}});
  write_file_atomic(o.json_out.empty() ? sidecar_path(o.out) : o.json_out, j.dump(2) + "\n");
}

struct UnpackOptions {
  std::string file, out, like;
  bool as_state_dict = false;
};

void run_unpack(const UnpackOptions& o) {
  const dcz::Model file = dcz::read(o.file);
  const std::string* architecture = file.find("model");
  if (!architecture) throw std::runtime_error(o.file + ": no 'model' entry in its metadata");
  const bool torchscript = *architecture == "torchscript";
  if (torchscript && o.like.empty() && !o.as_state_dict)
    throw std::invalid_argument(o.file + ": packed from a TorchScript module; give that module with --like FILE to "
                                "get TorchScript back, or --state-dict");
  if (!torchscript && !o.like.empty())
    throw std::invalid_argument(o.file + ": holds the built-in " + *architecture + ", not a TorchScript module");
  std::unique_ptr<Model> model;
  if (!torchscript) model = make_model(*architecture);
  else if (!o.like.empty()) model = ScriptModel::load(o.like);
  const StateDict weights = expanded_state_dict(file);
  if (model) {
    load_state_dict(*model, weights);  // strict: the file must fit the architecture exactly
    model->set_data(file_data(file));  // what the file says the module takes
  }
  if (model && !o.as_state_dict) model->save(o.out);
  else save_state_dict(weights, o.out);
  fmt::print("wrote {} ({}, {} tensors)\n", o.out, torchscript && model && !o.as_state_dict ? "TorchScript" : *architecture,
             weights.size());
}

}  // namespace

void add_pack_commands(CLI::App& app) {
  auto p = std::make_shared<PackOptions>();
  CLI::App* pack = app.add_subcommand("pack", "Write a weight-shared state_dict as one compressed file (.dcz)");
  pack->add_option("weights", p->weights, "Weight-shared model (dcomp quantize or finetune --tie-weights)")->required();
  pack->add_option("--model", p->model, "Architecture of a state_dict")->capture_default_str();
  add_common_options(*pack, p->common);
  pack->add_option("--out", p->out, "Compressed file")->required();
  pack->add_flag("--dense-float16", p->dense_float16, "Store BN parameters and biases at half precision");
  pack->add_flag("--fold-batchnorm", p->fold_batchnorm,
                 "Fold BatchNorm for inference: running statistics become mean 0, variance 1 (stored once), the affine "
                 "pair carries them; eval outputs unchanged, training state not kept (docs/format.md)");
  pack->add_option("--coder", p->coder,
                   "Entropy coder of the pruned, shared weights: huffman (the paper's) or adaptive "
                   "(context-adaptive arithmetic coding, docs/coding.md)")
      ->check(CLI::IsMember({"huffman", "adaptive"}))
      ->capture_default_str();
  pack->add_option("--json", p->json_out, "Compression figures as JSON (default: beside --out, .json)");
  pack->callback([p] { run_pack(*p); });

  auto u = std::make_shared<UnpackOptions>();
  CLI::App* unpack = app.add_subcommand("unpack", "Expand a compressed file back into a PyTorch model");
  unpack->add_option("file", u->file, "Compressed file (.dcz)")->required();
  unpack->add_option("--out", u->out, "Model to write: a state_dict, or TorchScript with --like")->required();
  unpack->add_option("--like", u->like, "For a file packed from TorchScript: that module (its code; its weights are "
                                        "replaced by the file's)");
  add_state_dict_flag(*unpack, u->as_state_dict);
  unpack->callback([u] { run_unpack(*u); });
}

}  // namespace dcomp::cli
