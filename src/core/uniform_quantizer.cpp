#include "core/uniform_quantizer.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace dcomp {

KMeansResult uniform_quantize_1d(const std::vector<float>& values, int k, double step) {
  if (k < 2 || k % 2 != 0) throw std::invalid_argument("uniform quantization needs an even number of levels");
  if (!(step >= 0)) throw std::invalid_argument("the uniform step must be >= 0");
  const int per_side = k / 2;
  double squares = 0, largest = 0;
  for (float v : values) squares += double(v) * v, largest = std::max(largest, double(std::fabs(v)));
  const double rms = values.empty() ? 0 : std::sqrt(squares / double(values.size()));
  double delta = step > 0 ? step * rms : largest / per_side;
  if (!(delta > 0)) delta = 1;  // no nonzero values: any levels will do

  KMeansResult r;
  // Ascending: negative levels -L..-1, then +1..+L.
  for (int j = -per_side; j <= per_side; ++j)
    if (j != 0) r.centroids.push_back(float(j * delta));
  r.assignment.reserve(values.size());
  for (float v : values) {
    // |v| / delta rounded to the nearest level number in [1, L].
    const int level = int(std::clamp(std::lround(std::fabs(v) / delta), 1L, long(per_side)));
    r.assignment.push_back(uint32_t(v < 0 ? per_side - level : per_side + level - 1));
  }
  return r;
}

}  // namespace dcomp
