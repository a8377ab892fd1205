// The sections of the homework's report (homework_report.h), shared by the
// files that write them: Problem 1's measured answers and the labs' results.
#pragma once

#include <fmt/format.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/homework_report.h"
#include "core/compressed_file.h"
#include "libtorch/data.h"

namespace dcomp::cli::homework {

// The test split's noise: one standard error of a top-1 near 88% on 10,000
// images is 0.32 points; differences inside it are not findings.
constexpr double kNoisePoints = 0.33;

inline std::string pct(double v) { return fmt::format("{:.2f}%", 100 * v); }
inline std::string points(double v) { return fmt::format("{:+.2f}", 100 * v); }
inline std::string count(int64_t n) {  // 1234567 -> "1,234,567"
  std::string s = std::to_string(n);
  for (int i = int(s.size()) - 3; i > (n < 0 ? 1 : 0); i -= 3) s.insert(size_t(i), ",");
  return s;
}

inline Block text(const std::string& heading, const std::string& body) { return {heading, body, {}, "", ""}; }
inline Block figure(const std::string& name, const std::string& svg) { return {"", "", {}, name, svg}; }
inline Block table(const std::string& body, Table t) { return {"", body, std::move(t), "", ""}; }

// What the Lab 4 run left, and what it ran on.
struct Lab4 {
  std::filesystem::path dir;
  nlohmann::json summary;
  std::string architecture;
  DatasetInfo info;
  DataSplits data;
  std::string data_dir;  // where `data` came from
  torch::Device device = torch::kCPU;
  dcz::Model compressed;  // file(), read once
  std::filesystem::path file() const { return dir / (summary["model"].get<std::string>() + ".dcz"); }
  std::string path(const std::string& name) const { return (dir / name).string(); }
  double top1(const std::string& model_file, const TensorDataset& split) const;  // of the model in dir
};

// Problem 1.1-1.5, each measured on the Lab 4 models.
void problem_1_1_and_1_2(const Lab4& lab, std::vector<Block>& out);
void problem_1_3(const Lab4& lab, const HomeworkInputs& in, std::vector<Block>& out);
void problem_1_4(std::vector<Block>& out);
void problem_1_5(const Lab4& lab, std::vector<Block>& out);

// Labs 1-3 from results/labN/results.json (a note where absent), Lab 4 and the
// frontier from results/lab4 and results/frontier.
void lab_1(const std::filesystem::path& results, std::vector<Block>& out);
void lab_2(const std::filesystem::path& results, std::vector<Block>& out);
void lab_3(const std::filesystem::path& results, std::vector<Block>& out);
void lab_4(const Lab4& lab, const std::filesystem::path& results, std::vector<Block>& out);

}  // namespace dcomp::cli::homework
