// Model weights as PyTorch state_dicts: ordered (name -> tensor), in the
// order PyTorch's Module.state_dict() gives, saved as `.pt` files that
// torch.load opens and read back from files torch.save wrote.
#pragma once

#include <torch/torch.h>

#include <string>
#include <utility>
#include <vector>

namespace dcomp {

using StateDict = std::vector<std::pair<std::string, torch::Tensor>>;

// Module by module (pre-order), each module's parameters then its buffers:
// the order of PyTorch's state_dict().
StateDict state_dict(const torch::nn::Module& model);

// Writes a torch.save-compatible zip (a dict of CPU tensors), atomically.
void save_state_dict(const StateDict& weights, const std::string& path);

// Reads a state_dict from a .pt file written by torch.save (a dict or the
// OrderedDict of model.state_dict()) or by save_state_dict. Throws
// std::runtime_error naming the file and the fault.
StateDict load_state_dict_file(const std::string& path);

}  // namespace dcomp
