#include "runtime/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <stdexcept>
#include <vector>

namespace dcomp::runtime {
namespace {

TEST(ThreadPool, EveryIndexRunsOnce) {
  ThreadPool pool(3);
  for (int64_t n : {0, 1, 2, 3, 7, 100}) {
    std::vector<std::atomic<int>> runs(static_cast<size_t>(n));
    for (int repeat = 0; repeat < 50; ++repeat)
      pool.parallel_for(n, [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) ++runs[size_t(i)];
      });
    for (const auto& r : runs) EXPECT_EQ(r.load(), 50) << "n = " << n;
  }
}

TEST(ThreadPool, AWorkersExceptionReachesTheCaller) {
  ThreadPool pool(2);
  EXPECT_THROW(pool.parallel_for(10, [](int64_t begin, int64_t) {
                 if (begin > 0) throw std::runtime_error("second part");
               }),
               std::runtime_error);
  int64_t total = 0;
  std::mutex m;
  pool.parallel_for(10, [&](int64_t begin, int64_t end) {
    std::lock_guard<std::mutex> lock(m);
    total += end - begin;
  });
  EXPECT_EQ(total, 10);
}

}  // namespace
}  // namespace dcomp::runtime
