// dcomp pack / unpack: a weight-shared state_dict to the compressed file
// (.dcz) and back. pack prints (and saves as JSON) the compression figures:
// the seed's formula, the true file ratio, and the entropy bound.
#include <fmt/format.h>

#include <memory>

#include "cli/commands.h"
#include "core/atomic_file.h"
#include "libtorch/compressed_model.h"
#include "libtorch/models.h"

namespace dcomp::cli {
namespace {

struct PackOptions {
  std::string model = "resnet20", weights, out, json_out;
  bool dense_float16 = false;
};

void run_pack(const PackOptions& o) {
  auto model = make_model(o.model);
  load_state_dict(*model, load_state_dict_file(o.weights));
  const FileReport report =
      pack(*model, o.model, o.out, o.dense_float16 ? dcz::Storage::kFloat16 : dcz::Storage::kFloat32);
  fmt::print("{}", format_table(report));
  fmt::print("wrote {} ({} bytes; read back as written)\n", o.out, report.file_bytes);
  nlohmann::json j = to_json(report);
  j.update({{"model", o.model}, {"weights", o.weights}, {"command", invocation()}});
  write_file_atomic(o.json_out.empty() ? sidecar_path(o.out) : o.json_out, j.dump(2) + "\n");
}

struct UnpackOptions {
  std::string file, out;
};

void run_unpack(const UnpackOptions& o) {
  const dcz::Model file = dcz::read(o.file);
  const std::string* architecture = file.find("model");
  if (!architecture) throw std::runtime_error(o.file + ": no 'model' entry in its metadata");
  auto model = make_model(*architecture);
  const StateDict weights = expanded_state_dict(file);
  load_state_dict(*model, weights);  // strict: the file must fit the architecture exactly
  save_state_dict(weights, o.out);
  fmt::print("wrote {} ({}, {} tensors)\n", o.out, *architecture, weights.size());
}

}  // namespace

void add_pack_commands(CLI::App& app) {
  auto p = std::make_shared<PackOptions>();
  CLI::App* pack = app.add_subcommand("pack", "Write a weight-shared state_dict as one compressed file (.dcz)");
  pack->add_option("weights", p->weights, "Weight-shared state_dict .pt (dcomp quantize or finetune --tie-weights)")
      ->required();
  pack->add_option("--model", p->model, "Architecture")->check(CLI::IsMember(model_names()))->capture_default_str();
  pack->add_option("--out", p->out, "Compressed file")->required();
  pack->add_flag("--dense-float16", p->dense_float16, "Store BN parameters and biases at half precision");
  pack->add_option("--json", p->json_out, "Compression figures as JSON (default: beside --out, .json)");
  pack->callback([p] { run_pack(*p); });

  auto u = std::make_shared<UnpackOptions>();
  CLI::App* unpack = app.add_subcommand("unpack", "Expand a compressed file back into a PyTorch state_dict .pt");
  unpack->add_option("file", u->file, "Compressed file (.dcz)")->required();
  unpack->add_option("--out", u->out, "state_dict .pt to write")->required();
  unpack->callback([u] { run_unpack(*u); });
}

}  // namespace dcomp::cli
