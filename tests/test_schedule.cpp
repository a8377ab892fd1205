#include <gtest/gtest.h>

#include "libtorch/schedule.h"

using dcomp::learning_rate;
using dcomp::LrSchedule;

TEST(Schedule, CosineDecaysFromPeakToZero) {
  LrSchedule s;
  s.kind = "cosine";
  s.base_lr = 0.1;
  EXPECT_DOUBLE_EQ(learning_rate(s, 0, 10, 1000), 0.1);
  EXPECT_NEAR(learning_rate(s, 500, 10, 1000), 0.05, 1e-12);
  EXPECT_NEAR(learning_rate(s, 1000, 10, 1000), 0.0, 1e-12);
}

TEST(Schedule, WarmupRisesLinearly) {
  LrSchedule s;
  s.base_lr = 0.2;
  s.warmup_epochs = 2;
  EXPECT_NEAR(learning_rate(s, 0, 10, 1000), 0.01, 1e-12);
  EXPECT_NEAR(learning_rate(s, 9, 10, 1000), 0.1, 1e-12);
  EXPECT_NEAR(learning_rate(s, 20, 10, 1000), 0.2, 1e-12);
}

TEST(Schedule, MultistepDecaysAtMilestones) {
  LrSchedule s;
  s.kind = "multistep";
  s.base_lr = 0.1;
  s.milestones = {50, 75};
  EXPECT_NEAR(learning_rate(s, 499, 10, 1000), 0.1, 1e-12);
  EXPECT_NEAR(learning_rate(s, 500, 10, 1000), 0.01, 1e-12);
  EXPECT_NEAR(learning_rate(s, 750, 10, 1000), 0.001, 1e-12);
}

TEST(Schedule, OneCycleMatchesPyTorchDefaults) {
  LrSchedule s;
  s.kind = "onecycle";
  s.base_lr = 0.2;
  // torch.optim.lr_scheduler.OneCycleLR(max_lr=0.2, total_steps=1000)
  EXPECT_NEAR(learning_rate(s, 0, 10, 1000), 0.008, 1e-12);
  EXPECT_NEAR(learning_rate(s, 299, 10, 1000), 0.2, 1e-12);
  EXPECT_NEAR(learning_rate(s, 999, 10, 1000), 0.008 / 1e4, 1e-12);
}

TEST(Schedule, RejectsUnknownKinds) {
  LrSchedule s;
  s.kind = "triangular";
  EXPECT_THROW(dcomp::validate(s), std::invalid_argument);
}
