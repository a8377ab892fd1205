// Running another program (chromium, git) without a shell: its arguments as
// given, its output discarded, killed if it outlives `timeout_seconds`.
#pragma once

#include <string>
#include <vector>

namespace dcomp::cli {

// The program's exit status; -1 if it could not start or was killed.
int run_program(const std::vector<std::string>& arguments, int timeout_seconds);

}  // namespace dcomp::cli
