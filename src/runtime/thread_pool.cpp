#include "runtime/thread_pool.h"

#include <sched.h>

#include <algorithm>
#include <chrono>
#include <utility>

namespace dcomp::runtime {

namespace {

// How long a worker waits for the next loop awake: long enough to span the
// single-threaded steps between two convolutions of one image.
constexpr auto kSpin = std::chrono::microseconds(200);

void relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();  // lets the sibling hyperthread run while we spin
#endif
}

}  // namespace

ThreadPool::ThreadPool(int threads) {
  try {
    for (int part = 1; part < threads; ++part) workers_.emplace_back([this, part] { work(part); });
  } catch (...) {  // a thread the system would not start: stop those that did
    stop();
    throw;
  }
}

ThreadPool::~ThreadPool() { stop(); }

void ThreadPool::stop() {
  {
    std::lock_guard<std::mutex> lock(sleep_);
    stop_ = true;
  }
  wake_.notify_all();
  for (std::thread& t : workers_) t.join();
}

void ThreadPool::run_part(int part) {
  const int64_t parts = threads(), begin = n_ * part / parts, end = n_ * (part + 1) / parts;
  if (begin >= end) return;
  try {
    (*body_)(begin, end);
  } catch (...) {  // rethrown on the caller's thread, once every part has stopped
    std::lock_guard<std::mutex> lock(sleep_);
    if (!error_) error_ = std::current_exception();
  }
}

void ThreadPool::work(int part) {
  for (uint64_t seen = 0;;) {
    const auto spin_until = std::chrono::steady_clock::now() + kSpin;
    while (generation_.load(std::memory_order_acquire) == seen && std::chrono::steady_clock::now() < spin_until)
      relax();
    if (generation_.load(std::memory_order_acquire) == seen) {
      std::unique_lock<std::mutex> lock(sleep_);
      wake_.wait(lock, [&] { return stop_ || generation_.load(std::memory_order_acquire) != seen; });
      if (stop_) return;
    }
    seen = generation_.load(std::memory_order_acquire);
    run_part(part);
    unfinished_.fetch_sub(1, std::memory_order_acq_rel);
  }
}

void ThreadPool::parallel_for(int64_t n, const std::function<void(int64_t, int64_t)>& body) {
  std::unique_lock<std::mutex> in_use(in_use_, std::try_to_lock);
  if (workers_.empty() || n < 2 || !in_use.owns_lock()) {
    if (n > 0) body(0, n);
    return;
  }
  body_ = &body;
  n_ = n;
  unfinished_.store(int(workers_.size()), std::memory_order_relaxed);
  {
    std::lock_guard<std::mutex> lock(sleep_);  // a worker between its check and its wait sees the new loop
    generation_.fetch_add(1, std::memory_order_acq_rel);
  }
  wake_.notify_all();
  run_part(0);
  while (unfinished_.load(std::memory_order_acquire) != 0) relax();
  if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
}

int available_cores() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) return std::max(1, CPU_COUNT(&set));
  return std::max(1u, std::thread::hardware_concurrency());
}

}  // namespace dcomp::runtime
