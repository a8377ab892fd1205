// make_conformance_vectors DIR: writes the .dcz conformance vectors
// (vectors.h) into DIR, normally tests/conformance.
#include <cstdio>
#include <exception>

#include "conformance/vectors.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  try {
    dcomp::conformance::write_all(argv[1]);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
