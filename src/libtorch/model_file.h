// Model files as users have them: a TorchScript module (any architecture,
// its weights inside) or a state_dict of one of the built-in networks. The
// kind is read from the file's content, not its name.
#pragma once

#include <memory>
#include <string>

#include "libtorch/model.h"

namespace dcomp {

// Whether `path` is a TorchScript archive (rather than a torch.save file).
bool is_torchscript_file(const std::string& path);

// The model `path` holds: a TorchScript module as it is, or `architecture`
// (a built-in name or a TorchScript file, as open_model takes) with the
// state_dict's weights. Throws std::runtime_error naming the file and the
// fault.
std::unique_ptr<Model> load_model(const std::string& path, const std::string& architecture);

// load_model's model, told the images it takes and moved to `device`: ready
// to evaluate, train or teach.
std::unique_ptr<Model> load_model_for(const std::string& path, const std::string& architecture,
                                      const DatasetInfo& info, const torch::Device& device);

// A model to train: a built-in name (freshly initialised) or a TorchScript
// file (from its current weights).
std::unique_ptr<Model> open_model(const std::string& name_or_path);

}  // namespace dcomp
