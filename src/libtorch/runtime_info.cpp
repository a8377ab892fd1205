#include "libtorch/runtime_info.h"

#include <torch/version.h>

#include <ctime>
#include <stdexcept>
#include <vector>

#include "core/process.h"

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

// What `git -C <source> arguments...` prints, trailing blanks dropped; empty
// if git fails.
std::string git(std::vector<std::string> arguments) {
  arguments.insert(arguments.begin(), {"git", "-C", DCOMP_SOURCE_DIR});
  std::string out;
  if (run_program(arguments, 30, &out) != 0) return "";
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

}  // namespace

std::string git_commit() {
  const std::string commit = git({"rev-parse", "--verify", "--quiet", "HEAD"});
  if (commit.empty()) return "unknown";
  // Modified artifacts (models/, results/) do not make the code dirty: a
  // run that rewrites a committed model must still record a clean commit.
  const bool dirty =
      !git({"status", "--porcelain", "--untracked-files=no", "--", ".", ":!models", ":!results"}).empty();
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
