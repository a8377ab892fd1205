// Runs the plain-PyTorch reference script (tests/python/reference.py).
#pragma once

#include <cstdlib>
#include <string>

namespace dcomp::testing {

// Runs tests/python/reference.py with `args`; returns its exit status.
inline int run_reference(const std::string& args) {
  const std::string command = std::string(DCOMP_TEST_PYTHON) + " " + DCOMP_TEST_SCRIPTS + "/reference.py " + args;
  return std::system(command.c_str());
}

}  // namespace dcomp::testing
