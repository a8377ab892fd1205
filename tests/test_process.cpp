#include "core/process.h"

#include <gtest/gtest.h>

#include <chrono>

namespace dcomp {
namespace {

TEST(RunProgram, CapturesStandardOutputOnly) {
  std::string out;
  EXPECT_EQ(run_program({"sh", "-c", "printf 'line one\\nline two'; echo hidden >&2"}, 10, &out), 0);
  EXPECT_EQ(out, "line one\nline two");
}

TEST(RunProgram, ReturnsTheExitStatus) {
  EXPECT_EQ(run_program({"sh", "-c", "exit 3"}, 10), 3);
  std::string out;
  EXPECT_EQ(run_program({"sh", "-c", "echo partial; exit 4"}, 10, &out), 4);
  EXPECT_EQ(out, "partial\n");
}

TEST(RunProgram, AMissingProgramIsMinusOne) {
  std::string out;
  EXPECT_EQ(run_program({"dcomp-no-such-program"}, 10, &out), -1);
  EXPECT_EQ(out, "");
}

TEST(RunProgram, KillsAProgramPastItsTimeout) {
  const auto start = std::chrono::steady_clock::now();
  std::string out;
  EXPECT_EQ(run_program({"sh", "-c", "echo started; exec sleep 30"}, 1, &out), -1);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  EXPECT_EQ(out, "started\n");
}

}  // namespace
}  // namespace dcomp
