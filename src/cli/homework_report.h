// The homework's report: the five true/false questions of Problem 1, each
// answered with a measurement made here on the committed Lab 4 models, and
// Labs 1-4 from the committed results. Every number is read from a results
// file or measured by this code; no figure is typed by hand.
#pragma once

#include <filesystem>

#include "cli/commands.h"
#include "report/document.h"

namespace dcomp::cli {

struct HomeworkInputs {
  std::filesystem::path results = "results";  // lab1..lab4, frontier
  CommonOptions common;           // the data the Lab 4 model ran on, and the device
  int64_t training_steps = 20;    // per timing of Problem 1.3
  int training_repetitions = 5;
};

Document homework_report(const HomeworkInputs& inputs);

}  // namespace dcomp::cli
