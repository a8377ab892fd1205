#include "libtorch/progress.h"

#include <fmt/core.h>
#include <unistd.h>

#include <cstdio>

namespace dcomp {

namespace {
constexpr auto kRedrawInterval = std::chrono::milliseconds(250);
constexpr int kBarWidth = 24;
}  // namespace

std::string format_duration(double seconds) {
  const int64_t s = int64_t(seconds + 0.5);
  if (s >= 3600) return fmt::format("{}h{:02}m", s / 3600, (s / 60) % 60);
  if (s >= 60) return fmt::format("{}m{:02}s", s / 60, s % 60);
  return fmt::format("{}s", s);
}

ProgressBar::ProgressBar(std::string label, int64_t total_steps)
    : label_(std::move(label)),
      total_(total_steps),
      terminal_(::isatty(STDERR_FILENO) != 0),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

bool ProgressBar::due(int64_t step) const {
  return terminal_ && (step == total_ || std::chrono::steady_clock::now() - last_draw_ >= kRedrawInterval);
}

void ProgressBar::draw(int64_t step, int64_t images, double loss, double accuracy) {
  last_draw_ = std::chrono::steady_clock::now();
  const double elapsed = std::chrono::duration<double>(last_draw_ - start_).count();
  const double eta = step > 0 ? elapsed * double(total_ - step) / double(step) : 0;
  const int filled = int(kBarWidth * step / std::max<int64_t>(1, total_));
  fmt::print(stderr, "\r{} [{}{}] {}/{} loss {:.4f} acc {:.2f}% {:.0f} img/s ETA {}   ", label_,
             std::string(size_t(filled), '='), std::string(size_t(kBarWidth - filled), ' '), step, total_,
             loss, 100 * accuracy, elapsed > 0 ? double(images) / elapsed : 0.0, format_duration(eta));
  std::fflush(stderr);
}

void ProgressBar::finish(const std::string& summary) {
  fmt::print(stderr, "{}{} {}\n", terminal_ ? "\r\033[K" : "", label_, summary);
  std::fflush(stderr);
}

}  // namespace dcomp
