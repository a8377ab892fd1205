#include "cli/model_io.h"

#include <filesystem>

namespace dcomp::cli {

DatasetInfo chosen_data(const std::optional<DatasetInfo>& recorded, const CommonOptions& common) {
  if (!common.source.dataset.empty()) return describe(common.source, common.data_dir);
  if (recorded) return *recorded;
  throw std::invalid_argument("the model does not say which images it takes: give --dataset (cifar10, fmnist or "
                              "imagefolder with --data ROOT)");
}

DatasetInfo model_data(Model& model, const CommonOptions& common) {
  const DatasetInfo info = chosen_data(model.data(), common);
  model.set_data(info);
  return info;
}

DataSplits load_data(const DatasetInfo& info, const CommonOptions& common, int64_t validation_size) {
  if (info.name == "imagefolder") {
    if (common.data_dir.empty()) throw std::invalid_argument("an image folder needs --data ROOT");
    // The classes the model was trained with must be the folder's.
    const DatasetInfo found = describe({"imagefolder"}, common.data_dir);
    if (found.class_names != info.class_names)
      throw std::invalid_argument(common.data_dir + "/train: its classes differ from the " +
                                  std::to_string(info.class_names.size()) + " the model was trained on");
  }
  return load_splits(info, resolve_data_dir(info, common.data_dir), validation_size);
}

std::string model_label(const Model& model, const std::string& path) {
  return model.architecture() == "torchscript" ? std::filesystem::path(path).stem().string() : model.architecture();
}

void add_state_dict_flag(CLI::App& command, bool& as_state_dict) {
  command.add_flag("--state-dict", as_state_dict, "Write a state_dict .pt, also for a TorchScript model");
}

void save_model(const Model& model, const std::string& path, bool as_state_dict) {
  if (as_state_dict) save_state_dict(model.state_dict(), path);
  else model.save(path);
}

}  // namespace dcomp::cli
