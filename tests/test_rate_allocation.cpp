#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "core/rate_allocation.h"

using namespace dcomp;

namespace {

double total(const std::vector<std::vector<RateOption>>& layers, const std::vector<size_t>& chosen, bool bytes) {
  double sum = 0;
  for (size_t l = 0; l < layers.size(); ++l) sum += bytes ? layers[l][chosen[l]].bytes : layers[l][chosen[l]].cost;
  return sum;
}

// Every combination: the least cost within the budget.
double brute_force(const std::vector<std::vector<RateOption>>& layers, double budget) {
  double best = 1e300;
  std::vector<size_t> c(layers.size(), 0);
  for (;;) {
    if (total(layers, c, true) <= budget) best = std::min(best, total(layers, c, false));
    size_t l = 0;
    while (l < layers.size() && ++c[l] == layers[l].size()) c[l++] = 0;
    if (l == layers.size()) return best;
  }
}

// Options like a layer's: more bytes, less loss, with diminishing returns
// and some noise (points off the convex hull, which an exact search must
// still find). Whole bytes, so that nothing is rounded.
std::vector<std::vector<RateOption>> random_layers(std::mt19937& rng, size_t n, size_t k) {
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<std::vector<RateOption>> layers(n);
  for (auto& options : layers) {
    const double scale = 100 + 900 * u(rng), sensitivity = 5 * u(rng);
    for (size_t i = 0; i < k; ++i) {
      const double bytes = std::round(scale * double(i + 1));
      options.push_back({bytes, sensitivity / double(i + 1) + 0.3 * u(rng)});
    }
  }
  return layers;
}

}  // namespace

// Within the budget, and the exhaustive optimum.
TEST(RateAllocation, FindsTheOptimumWithinTheBudget) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 200; ++trial) {
    const auto layers = random_layers(rng, 4, 5);
    double smallest = 0, largest = 0;
    for (const auto& o : layers) smallest += o.front().bytes, largest += o.back().bytes;
    const double budget = smallest + (largest - smallest) * std::uniform_real_distribution<double>(0, 1)(rng);
    const std::vector<size_t> chosen = allocate_rate(layers, budget);
    ASSERT_LE(total(layers, chosen, true), budget);
    EXPECT_NEAR(total(layers, chosen, false), brute_force(layers, budget), 1e-9) << trial;
  }
}

// The layer whose bytes cost the least accuracy gives them up first.
TEST(RateAllocation, TheCheapestBytesGoFirst) {
  const std::vector<std::vector<RateOption>> layers = {
      {{1000, 0.0}, {500, 0.1}},  // sheds 500 bytes for 0.1
      {{1000, 0.0}, {500, 2.0}},  // sheds 500 bytes for 2.0
  };
  EXPECT_EQ(allocate_rate(layers, 2000), (std::vector<size_t>{0, 0}));
  EXPECT_EQ(allocate_rate(layers, 1500), (std::vector<size_t>{1, 0}));
  EXPECT_EQ(allocate_rate(layers, 1000), (std::vector<size_t>{1, 1}));
  EXPECT_THROW(allocate_rate(layers, 999), std::invalid_argument);
  EXPECT_THROW(allocate_rate({{}}, 1e9), std::invalid_argument);
}
