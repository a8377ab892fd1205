#include "libtorch/schedule.h"

#include <cmath>
#include <stdexcept>

namespace dcomp {
namespace {

constexpr double kPi = 3.14159265358979323846;

// Cosine interpolation from `from` (t = 0) to `to` (t = 1).
double cosine(double from, double to, double t) { return to + (from - to) * 0.5 * (1 + std::cos(kPi * t)); }

}  // namespace

void validate(const LrSchedule& s) {
  if (s.kind != "cosine" && s.kind != "multistep" && s.kind != "onecycle" && s.kind != "constant")
    throw std::invalid_argument("unknown schedule '" + s.kind + "' (cosine, multistep, onecycle, constant)");
  if (!(s.base_lr > 0)) throw std::invalid_argument("learning rate must be positive");
  if (s.warmup_epochs < 0) throw std::invalid_argument("warm-up epochs must be >= 0");
}

double learning_rate(const LrSchedule& s, int64_t step, int64_t steps_per_epoch, int64_t total_steps) {
  const double epoch = double(step) / double(steps_per_epoch);
  if (s.kind == "onecycle") {
    // PyTorch's OneCycleLR defaults: 30% of the steps up from lr/25, then
    // down to lr/(25 * 1e4), both cosine.
    const double start = s.base_lr / 25, end = start / 1e4;
    const double peak_step = 0.3 * double(total_steps) - 1;
    if (step <= peak_step) return cosine(start, s.base_lr, double(step) / peak_step);
    return cosine(s.base_lr, end, (double(step) - peak_step) / (double(total_steps) - 1 - peak_step));
  }
  const double warmup_steps = s.warmup_epochs * double(steps_per_epoch);
  if (double(step) < warmup_steps) return s.base_lr * double(step + 1) / warmup_steps;
  if (s.kind == "cosine") {
    const double t = (double(step) - warmup_steps) / std::max(1.0, double(total_steps) - warmup_steps);
    return cosine(s.base_lr, 0.0, t);
  }
  if (s.kind == "multistep") {
    double lr = s.base_lr;
    for (int64_t m : s.milestones)
      if (epoch >= double(m)) lr *= s.gamma;
    return lr;
  }
  return s.base_lr;
}

}  // namespace dcomp
