// Facts about this build and machine that every result records.
#pragma once

#include <torch/torch.h>

#include <string>

namespace dcomp {

// "cpu", "cuda" or "auto" (CUDA when the linked LibTorch has a GPU).
torch::Device resolve_device(const std::string& name);

std::string git_commit();  // of the source tree dcomp was built from; "-dirty" if modified
std::string libtorch_version();
std::string utc_timestamp();  // ISO 8601

}  // namespace dcomp
