// Runs the plain-PyTorch scripts of tests/python with Debian's python3-torch.
#pragma once

#include <cstdlib>
#include <string>

namespace dcomp::testing {

// Runs tests/python/<script> with `args`; returns its exit status.
inline int run_python_script(const std::string& script, const std::string& args) {
  const std::string command = std::string(DCOMP_TEST_PYTHON) + " " + DCOMP_TEST_SCRIPTS + "/" + script + " " + args;
  return std::system(command.c_str());
}

inline int run_reference(const std::string& args) { return run_python_script("reference.py", args); }

}  // namespace dcomp::testing
