#include "libtorch/runtime_info.h"

#include <torch/version.h>

#include <array>
#include <cstdio>
#include <ctime>
#include <memory>
#include <stdexcept>

namespace dcomp {

torch::Device resolve_device(const std::string& name) {
  if (name == "cpu") return torch::kCPU;
  if (name == "cuda") {
    if (!torch::cuda::is_available()) throw std::runtime_error("--device cuda: no CUDA device is available");
    return torch::kCUDA;
  }
  if (name == "auto") return torch::cuda::is_available() ? torch::kCUDA : torch::kCPU;
  throw std::invalid_argument("unknown device '" + name + "' (cpu, cuda, auto)");
}

namespace {

std::string run_command(const std::string& command) {
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(::popen(command.c_str(), "r"), &::pclose);
  if (!pipe) return "";
  std::string out;
  std::array<char, 256> buf{};
  while (std::fgets(buf.data(), int(buf.size()), pipe.get())) out += buf.data();
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

}  // namespace

std::string git_commit() {
  const std::string git = "git -C '" DCOMP_SOURCE_DIR "' ";
  const std::string commit = run_command(git + "rev-parse --verify --quiet HEAD 2>/dev/null");
  if (commit.empty()) return "unknown";
  // Modified artifacts (models/, results/) do not make the code dirty: a
  // run that rewrites a committed model must still record a clean commit.
  const bool dirty =
      !run_command(git + "status --porcelain --untracked-files=no -- . ':!models' ':!results' 2>/dev/null").empty();
  return dirty ? commit + "-dirty" : commit;
}

std::string libtorch_version() { return TORCH_VERSION; }

std::string utc_timestamp() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace dcomp
