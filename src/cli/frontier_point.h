// One frontier point: a finished pipeline run (its summary.json and its
// .dcz), read the same way by `dcomp frontier` and the homework's report.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace dcomp::cli {

struct FrontierPoint {
  std::string name;  // the run's directory, as given
  nlohmann::json summary;
  uint64_t adaptive_bytes = 0;           // the run's file under the adaptive coder
  double measured_validation_top1 = -1;  // by the reader, where the run recorded none
  double top1() const { return summary["final_top1"]; }
  // Held-out accuracy; runs from before it was recorded have none (-1)
  // unless measured when read.
  double validation_top1() const { return summary.value("final_validation_top1", measured_validation_top1); }
  double baseline_validation_top1() const { return summary.value("baseline_validation_top1", -1.0); }
  double file_factor() const { return summary["compression_file"]; }
  double adaptive_factor() const;
  double sparsity() const;
  std::string bits() const;  // the widths per layer, and the quantizer's parameters
};

// Reads `run` (a results directory with the file, or a run directory with its
// pack stage), checks the file is the one its summary describes, re-encodes
// it with the adaptive coder in memory and, with `data_dir`, measures the
// validation top-1 the run did not record. Throws naming the run.
FrontierPoint read_frontier_point(const std::string& run, const std::string& data_dir);

// Whether `top1` is at most `bar_points` below `baseline_top1` (both
// fractions); the comparison forgives rounding in the recorded figures.
bool holds_bar(double top1, double baseline_top1, double bar_points);

}  // namespace dcomp::cli
