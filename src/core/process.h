// Running another program (git, chromium) without a shell: its arguments as
// given, its standard output captured on request (else discarded, as its
// error output always is), killed if it outlives `timeout_seconds`.
#pragma once

#include <string>
#include <vector>

namespace dcomp {

// The program's exit status; -1 if it could not start or was killed. With
// `output`, what the program wrote to standard output.
int run_program(const std::vector<std::string>& arguments, int timeout_seconds, std::string* output = nullptr);

}  // namespace dcomp
