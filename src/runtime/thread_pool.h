// The runtime's threads: a fixed set of workers that split one loop with the
// calling thread. A batch-1 convolution lasts tens of microseconds, less
// than a sleeping thread takes to wake, so workers spin for a while after
// each loop before they sleep.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace dcomp::runtime {

class ThreadPool {
 public:
  // `threads` in all, the caller included (1: no workers). Throws
  // std::system_error when the system will not start them.
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int threads() const { return int(workers_.size()) + 1; }
  // body(begin, end) over [0, n) in one contiguous part per thread; returns
  // when every part is done. A call made while another is running (from a
  // second thread) runs all of [0, n) on its own thread.
  void parallel_for(int64_t n, const std::function<void(int64_t, int64_t)>& body);

 private:
  void work(int part);
  void stop();  // ends and joins the workers
  void run_part(int part);

  std::vector<std::thread> workers_;
  std::mutex in_use_;  // held by the caller of the running loop
  std::mutex sleep_;
  std::condition_variable wake_;
  std::atomic<uint64_t> generation_{0};  // one more per loop
  std::atomic<int> unfinished_{0};       // workers' parts of this loop
  bool stop_ = false;                    // under sleep_
  const std::function<void(int64_t, int64_t)>* body_ = nullptr;
  int64_t n_ = 0;
  std::exception_ptr error_;  // the first part's that threw, under sleep_
};

// All the cores this process may run on.
int available_cores();

}  // namespace dcomp::runtime
