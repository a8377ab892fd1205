#include "core/rate_allocation.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>

namespace dcomp {

std::vector<size_t> allocate_rate(const std::vector<std::vector<RateOption>>& layers, double budget) {
  constexpr double kUnits = 100000;
  const double unit = std::max(1.0, budget / kUnits);
  const size_t capacity = budget >= 0 ? size_t(std::floor(budget / unit)) : 0;
  constexpr double kNone = std::numeric_limits<double>::infinity();
  // least[b]: the least cost of the layers so far in at most b units;
  // pick[l][b]: layer l's option there.
  std::vector<double> least(capacity + 1, budget >= 0 ? 0 : kNone), next(capacity + 1);
  std::vector<std::vector<uint16_t>> pick(layers.size(), std::vector<uint16_t>(capacity + 1, 0));
  for (size_t l = 0; l < layers.size(); ++l) {
    if (layers[l].empty() || layers[l].size() > UINT16_MAX) throw std::invalid_argument("a layer has no option");
    std::fill(next.begin(), next.end(), kNone);
    for (size_t i = 0; i < layers[l].size(); ++i) {
      const size_t units = size_t(std::ceil(std::max(0.0, layers[l][i].bytes) / unit));
      for (size_t b = units; b <= capacity; ++b)
        if (least[b - units] + layers[l][i].cost < next[b]) next[b] = least[b - units] + layers[l][i].cost, pick[l][b] = uint16_t(i);
    }
    least.swap(next);
  }
  if (!(least[capacity] < kNone))
    throw std::invalid_argument("no choice fits the budget of " + std::to_string(static_cast<long long>(budget)) +
                                " bytes");
  std::vector<size_t> chosen(layers.size());
  size_t b = capacity;
  for (size_t l = layers.size(); l-- > 0;) {
    chosen[l] = pick[l][b];
    b -= size_t(std::ceil(std::max(0.0, layers[l][chosen[l]].bytes) / unit));
  }
  return chosen;
}

}  // namespace dcomp
