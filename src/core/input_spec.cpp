#include "core/input_spec.h"

#include <cmath>
#include <sstream>
#include <stdexcept>

namespace dcomp::dcz {

namespace {

std::vector<std::string> split(const std::string& s, char separator) {
  std::vector<std::string> parts;
  std::stringstream in(s);
  for (std::string part; std::getline(in, part, separator);) parts.push_back(part);
  return parts;
}

const std::string& value(const Model& file, const char* key) {
  const std::string* v = file.find(key);
  if (!v) throw std::invalid_argument(std::string("the file's metadata has no '") + key + "'");
  return *v;
}

// Comma-separated numbers, parsed as doubles (as LibTorch parses them).
std::vector<double> numbers(const Model& file, const char* key) {
  std::vector<double> out;
  for (const std::string& part : split(value(file, key), ',')) {
    char* end = nullptr;
    const double v = std::strtod(part.c_str(), &end);
    if (part.empty() || *end != '\0' || !std::isfinite(v))
      throw std::invalid_argument(std::string("metadata ") + key + ": not numbers");
    out.push_back(v);
  }
  return out;
}

}  // namespace

InputSpec input_spec(const Model& file) {
  InputSpec s;
  if (const std::string* model = file.find("model")) s.architecture = *model;
  if (const std::string* dataset = file.find("dataset")) s.dataset = *dataset;
  const std::vector<double> shape = numbers(file, "input_shape");
  if (shape.size() != 3) throw std::invalid_argument("metadata input_shape must be C,H,W");
  for (double d : shape)
    if (!(d >= 1 && d <= double(1 << 30)) || d != std::floor(d))
      throw std::invalid_argument("metadata input_shape must be C,H,W of whole numbers from 1");
  s.channels = int64_t(shape[0]), s.height = int64_t(shape[1]), s.width = int64_t(shape[2]);
  s.mean = numbers(file, "input_mean");
  s.std = numbers(file, "input_std");
  if (int64_t(s.mean.size()) != s.channels || int64_t(s.std.size()) != s.channels)
    throw std::invalid_argument("metadata input_mean and input_std need one value per channel");
  for (double v : s.std)
    if (!(v > 0)) throw std::invalid_argument("metadata input_std must be positive");
  if (const std::string* names = file.find("class_names")) s.class_names = split(*names, ',');
  return s;
}

}  // namespace dcomp::dcz
