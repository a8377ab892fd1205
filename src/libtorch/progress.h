// A one-line progress bar on stderr: position, ETA, loss, accuracy, images/s.
// Redrawn in place on a terminal, at most a few times a second; elsewhere
// (logs, CI) only the final line of each epoch is printed.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace dcomp {

class ProgressBar {
 public:
  ProgressBar(std::string label, int64_t total_steps);

  // True when a redraw is due: callers then fetch their (synchronizing)
  // statistics and call draw().
  bool due(int64_t step) const;
  void draw(int64_t step, int64_t images, double loss, double accuracy);
  void finish(const std::string& summary);

 private:
  std::string label_;
  int64_t total_;
  bool terminal_;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

std::string format_duration(double seconds);

}  // namespace dcomp
