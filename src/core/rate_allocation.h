// Choosing one option per layer (a sparsity and a bit width, say) so that
// the layers' bytes fit a budget at the least total cost (accuracy lost):
//   minimise sum_l cost_l(o_l)  subject to  sum_l bytes_l(o_l) <= budget,
// a multiple-choice knapsack, solved exactly by dynamic programming over
// the budget in units of max(1 byte, budget / 100,000) (bytes rounded up to
// whole units, so the choice always fits): O(layers x options x 100,000).
#pragma once

#include <cstddef>
#include <vector>

namespace dcomp {

struct RateOption {
  double bytes = 0;
  double cost = 0;
};

// One chosen index per layer. Throws std::invalid_argument if a layer has
// no option or no choice fits the budget.
std::vector<size_t> allocate_rate(const std::vector<std::vector<RateOption>>& layers, double budget);

}  // namespace dcomp
