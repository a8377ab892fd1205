// bf16 autocast for a scope, on CPU or CUDA, across LibTorch 1.13 and 2.x
// (2.4 replaced the per-device setters with device-type arguments).
#pragma once

#include <ATen/autocast_mode.h>
#include <cstdio>
#include <mutex>
#include <torch/torch.h>
#include <torch/version.h>

namespace dcomp {

// Whether bf16 autocast is worth using on this device. LibTorch 1.13's fast
// bf16 convolutions and matrix products are oneDNN's AVX-512 kernels; on
// x86 CPUs without AVX-512 BW, VL and DQ bf16 training measured 1.2x
// faster than fp32 on one AMD EPYC and over 50x slower on another (Zen 3,
// docs/benchmarks.md), so there it becomes fp32, with a note on stderr the
// first time.
inline bool bf16_usable(const torch::Device& device) {
#if defined(__x86_64__) || defined(__i386__)
  if (device.is_cpu() && !(__builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
                           __builtin_cpu_supports("avx512dq"))) {
    static std::once_flag said;
    std::call_once(said, [] {
      std::fputs("note: this CPU lacks AVX-512 BW, VL and DQ, for which LibTorch's bf16 kernels are made "
                 "(without them bf16 can be 50x slower than fp32); computing in fp32\n", stderr);
    });
    return false;
  }
#endif
  return true;
}

// bf16 autocast for a scope (its users ask bf16_usable first; the probe
// for missing bf16 kernels does not).
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
