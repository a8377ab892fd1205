// libFuzzer target: arbitrary bytes into the compressed-file decoder. The
// only acceptable outcomes are a decoded model or a FormatError; a crash, a
// sanitizer report, a hang or a huge allocation is a bug.
#include <cstddef>
#include <cstdint>

#include "core/bit_stream.h"
#include "core/compressed_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    dcomp::dcz::decode(data, size);
  } catch (const dcomp::FormatError&) {
  }
  return 0;
}
