// Atomic writes: results are written to a temporary file beside the target and
// renamed over it, so a killed process never leaves a half-written file.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace dcomp {

// Writes `bytes` to `path` atomically; throws std::runtime_error naming the
// path on failure. Creates missing parent directories.
void write_file_atomic(const std::string& path, std::string_view bytes);

// Renames a finished temporary file onto `path` (for writers that produce a
// file themselves, given `temporary_path_for(path)`).
std::string temporary_path_for(const std::string& path);
void commit_temporary(const std::string& temporary, const std::string& path);

}  // namespace dcomp
