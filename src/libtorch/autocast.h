// bf16 autocast for a scope, on CPU or CUDA, across LibTorch 1.13 and 2.x
// (2.4 replaced the per-device setters with device-type arguments).
#pragma once

#include <ATen/autocast_mode.h>
#include <torch/torch.h>
#include <torch/version.h>

namespace dcomp {

class Bf16Autocast {
 public:
  Bf16Autocast(bool enabled, const torch::Device& device) : enabled_(enabled), type_(device.type()) {
    if (enabled_) set(true);
  }
  ~Bf16Autocast() {
    if (!enabled_) return;
    set(false);
    // Casts of the weights are cached for one forward pass; the optimizer
    // changes the weights in place, so the cache must not outlive the scope.
    at::autocast::clear_cache();
  }
  Bf16Autocast(const Bf16Autocast&) = delete;
  Bf16Autocast& operator=(const Bf16Autocast&) = delete;

 private:
  void set(bool on) {
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
    at::autocast::set_autocast_dtype(type_, at::kBFloat16);
    at::autocast::set_autocast_enabled(type_, on);
#else
    if (type_ == torch::kCUDA) {
      at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
      at::autocast::set_enabled(on);
    } else {
      at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
      at::autocast::set_cpu_enabled(on);
    }
#endif
  }

  bool enabled_;
  c10::DeviceType type_;
};

}  // namespace dcomp
