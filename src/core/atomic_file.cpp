#include "core/atomic_file.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <stdexcept>

namespace dcomp {

namespace fs = std::filesystem;

std::string temporary_path_for(const std::string& path) {
  const fs::path parent = fs::path(path).parent_path();
  if (!parent.empty()) fs::create_directories(parent);
  return path + ".tmp" + std::to_string(::getpid());
}

void commit_temporary(const std::string& temporary, const std::string& path) {
  std::error_code ec;
  fs::rename(temporary, path, ec);
  if (ec) {
    fs::remove(temporary, ec);
    throw std::runtime_error(path + ": cannot write (" + ec.message() + ")");
  }
}

void write_file_atomic(const std::string& path, std::string_view bytes) {
  const std::string tmp = temporary_path_for(path);
  FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) throw std::runtime_error(path + ": cannot open for writing");
  const bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size() &&
                  std::fflush(f) == 0 && ::fsync(::fileno(f)) == 0;
  if (std::fclose(f) != 0 || !ok) {
    std::remove(tmp.c_str());
    throw std::runtime_error(path + ": write failed");
  }
  commit_temporary(tmp, path);
}

}  // namespace dcomp
