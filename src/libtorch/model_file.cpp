#include "libtorch/model_file.h"

#include <caffe2/serialize/inline_container.h>

#include <filesystem>

#include "libtorch/models.h"
#include "libtorch/script_model.h"

namespace dcomp {

bool is_torchscript_file(const std::string& path) {
  try {
    // Both kinds are PyTorch zip archives; only TorchScript has constants.
    caffe2::serialize::PyTorchStreamReader archive(path);
    return archive.hasRecord("constants.pkl");
  } catch (const std::exception&) {
    return false;  // not a PyTorch zip: the state_dict reader says why
  }
}

std::unique_ptr<Model> load_model(const std::string& path, const std::string& architecture) {
  if (!std::filesystem::exists(path)) throw std::runtime_error(path + ": no such file");
  if (is_torchscript_file(path)) return ScriptModel::load(path);
  std::unique_ptr<Model> model = open_model(architecture);
  try {
    load_state_dict(*model, load_state_dict_file(path));
  } catch (const std::exception& e) {
    const std::string what = e.what();
    throw std::runtime_error(what.rfind(path, 0) == 0 ? what : path + ": " + what);
  }
  return model;
}

std::unique_ptr<Model> load_model_for(const std::string& path, const std::string& architecture,
                                      const DatasetInfo& info, const torch::Device& device) {
  auto model = load_model(path, architecture);
  model->set_data(info);
  model->to(device);
  return model;
}

std::unique_ptr<Model> open_model(const std::string& name_or_path) {
  if (is_builtin_model(name_or_path)) return make_model(name_or_path);
  if (std::filesystem::exists(name_or_path)) {
    if (!is_torchscript_file(name_or_path))
      throw std::runtime_error(name_or_path + ": not a TorchScript module (a state_dict's architecture is a name: " +
                               "--model resnet20 and the weights as a file)");
    return ScriptModel::load(name_or_path);
  }
  std::string known;
  for (const ModelSpec& spec : model_specs()) known += (known.empty() ? "" : ", ") + spec.name;
  throw std::invalid_argument("unknown model '" + name_or_path + "' (known: " + known +
                              "; or the path of a TorchScript file)");
}

}  // namespace dcomp
