// Learning-rate schedules as pure functions of the optimizer step, so that a
// resumed run continues exactly.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace dcomp {

struct LrSchedule {
  std::string kind = "cosine";  // cosine | multistep | onecycle | constant
  double base_lr = 0.1;         // peak learning rate
  double warmup_epochs = 0;     // linear warm-up from 0 (cosine, multistep, constant)
  std::vector<int64_t> milestones;  // multistep: epochs where lr *= gamma
  double gamma = 0.1;
};

// Learning rate for optimizer step `step` (0-based) of a run of
// `total_steps`, with `steps_per_epoch` steps an epoch.
double learning_rate(const LrSchedule& schedule, int64_t step, int64_t steps_per_epoch,
                     int64_t total_steps);

// Throws std::invalid_argument for an unknown kind or bad values.
void validate(const LrSchedule& schedule);

}  // namespace dcomp
