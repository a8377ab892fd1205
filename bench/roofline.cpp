// The roofline of this core, for reading the runtime's speed against it:
// peak multiply-add rate (independent FMA chains in registers), load
// bandwidth from L1 (a buffer re-read in place) and from memory (a large
// one streamed), on one thread and on `--threads` at once. Prints one JSON
// line per thread count.
//   roofline --threads 2
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdint>
#include <cstring>
#include <thread>
#include <vector>

#include "runtime/vector.h"  // the runtime's vector width and multiply-add

namespace {

using Clock = std::chrono::steady_clock;
using dcomp::runtime::kVecFloats;
using dcomp::runtime::Vec;

// 12 independent accumulators: enough to cover the FMA latency (4 cycles)
// on two pipes. Returns multiply-adds per second.
double fma_rate(double seconds) {
  Vec acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = Vec{} + float(i);
  const float a = 0.999999f;
  const Vec b = Vec{} + 1e-7f;
  int64_t rounds = 0;
  const auto start = Clock::now();
  double elapsed = 0;
  do {
    for (int k = 0; k < 1000; ++k)
      for (int i = 0; i < 12; ++i) acc[i] = dcomp::runtime::multiply_add(acc[i], a, b);
    rounds += 1000;
    elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  } while (elapsed < seconds);
  float sink = 0;
  for (int i = 0; i < 12; ++i) sink += acc[i][0];
  if (sink == 12345.0f) std::puts("");  // keeps the chains alive
  return double(rounds) * 12 * kVecFloats / elapsed;
}

// Bytes per second loaded by summing `bytes` of floats, again and again,
// from `offset` floats past a cache line's start (the runtime's runs start
// anywhere, and a vector that straddles two lines costs two loads).
double load_rate(size_t bytes, double seconds, size_t offset = 0) {
  std::vector<float> storage(bytes / 4 + 32, 1.0f);
  const float* const data =
      reinterpret_cast<const float*>((reinterpret_cast<uintptr_t>(storage.data()) + 63) / 64 * 64) + offset;
  const size_t vecs = bytes / 4 / kVecFloats / 8 * 8;
  Vec acc[8] = {};  // independent sums, enough to cover the add latency
  // Passes between clock reads: a 16 KiB pass is only ~100 cycles.
  const int64_t batch = std::max<int64_t>(1, int64_t((1 << 24) / bytes));
  int64_t passes = 0;
  const auto start = Clock::now();
  double elapsed = 0;
  do {
    for (int64_t pass = 0; pass < batch; ++pass)
      for (size_t i = 0; i < vecs; i += 8)
        for (int j = 0; j < 8; ++j) {
          Vec v;
          std::memcpy(&v, data + (i + size_t(j)) * kVecFloats, sizeof v);
          acc[j] += v;
        }
    passes += batch;
    elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  } while (elapsed < seconds);
  Vec total = {};
  for (const Vec& a : acc) total += a;
  if (total[0] == -1.0f) std::puts("");
  return double(passes) * double(vecs * kVecFloats * 4) / elapsed;
}

// f on `threads` threads at once; the sum of their rates.
template <typename F>
double on_threads(int threads, F f) {
  std::vector<double> rates(static_cast<size_t>(threads));
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) workers.emplace_back([&, t] { rates[size_t(t)] = f(); });
  for (std::thread& w : workers) w.join();
  double total = 0;
  for (double r : rates) total += r;
  return total;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Peak multiply-add rate and load bandwidth of this machine"};
  int threads = 2;
  double seconds = 1.0;
  app.add_option("--threads", threads, "Also measure this many threads at once")->capture_default_str();
  app.add_option("--seconds", seconds, "Seconds per measurement")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  std::vector<int> counts{1};
  if (threads > 1) counts.push_back(threads);
  for (int t : counts) {
    const double fma = on_threads(t, [&] { return fma_rate(seconds); });
    const double l1 = on_threads(t, [&] { return load_rate(16 << 10, seconds); });
    const double l1_unaligned = on_threads(t, [&] { return load_rate(16 << 10, seconds, 1); });
    const double memory = on_threads(t, [&] { return load_rate(size_t(256) << 20, seconds); });
    std::printf("{\"threads\":%d,\"vector_floats\":%lld,\"fma_g_per_s\":%.2f,\"l1_load_gb_per_s\":%.1f,\"l1_unaligned_load_gb_per_s\":%.1f,"
                "\"memory_load_gb_per_s\":%.1f,\"l1_loads_per_fma\":%.2f}\n",
                t, static_cast<long long>(kVecFloats), fma / 1e9, l1 / 1e9, l1_unaligned / 1e9, memory / 1e9, l1 / 4 / fma);
  }
  return 0;
}
