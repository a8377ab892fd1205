// Data-parallel training across processes on PyTorch's c10d (TCPStore and
// ProcessGroupGloo), launched by torchrun or by anything that sets its
// environment. Every rank holds the whole model; each trains on its part of
// every global batch, and the gradients are summed across ranks before the
// optimizer steps, so every rank takes the same step and the weights stay
// bit-identical everywhere (DistributedDataParallel's semantics, without its
// Reducer, which Debian's headers cannot build).
#pragma once

#include <torch/torch.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace c10d {
class Store;
class ProcessGroupGloo;
}  // namespace c10d

namespace dcomp {

// What torchrun tells each worker process.
struct LaunchEnvironment {
  int rank = 0, world_size = 1, local_rank = 0;
  std::string master_addr;
  int master_port = 0;
  // The static rendezvous's agent hosts the store and every worker is a
  // client under /worker/attempt_<restarts>; otherwise rank 0 hosts it.
  bool agent_store = false;
  int restart_count = 0;
};

// The launch environment from `getenv`, or nullopt when WORLD_SIZE is unset
// (dcomp runs alone). Throws naming the variable that is missing or malformed.
std::optional<LaunchEnvironment> launch_environment(const std::function<const char*(const char*)>& getenv);

class DataParallel {
 public:
  // Connects to the store and the other ranks, waiting at most `timeout` for
  // them; the same timeout bounds every collective afterwards, so a dead
  // rank stops the others. GLOO_SOCKET_IFNAME names the interface if set.
  DataParallel(const LaunchEnvironment& env, std::chrono::milliseconds timeout);
  ~DataParallel();

  int rank() const { return env_.rank; }
  int world_size() const { return env_.world_size; }

  // Rank 0's `value` under `what`, on every rank; ranks other than 0 wait
  // for rank 0 to get there. Every rank makes these calls in the same order.
  std::string rank0_value(const std::string& what, const std::string& value);

  // Every rank must pass the same `value` under `what` (e.g. the training
  // recipe); a rank whose value differs from rank 0's throws naming both.
  void check_same(const std::string& what, const std::string& value);

  // Overwrites the tensors on every rank with rank 0's, in place.
  void broadcast_from_rank0(const std::vector<torch::Tensor>& tensors, const std::string& what);

  // grad <- sum over ranks of (weight_r * grad_r), for every parameter, in
  // flattened buckets of about 25 MB (DDP's default bucket size). A
  // parameter without a gradient takes zeros (a rank with no images in a
  // step still joins it). With weight_r = this rank's share of the global
  // batch, the result is the gradient of the global batch's mean loss.
  void sum_gradients(const std::vector<torch::Tensor>& parameters, double weight);

  // In place: the elementwise sum of `tensor` over ranks.
  void sum(torch::Tensor& tensor, const std::string& what);

  // The end of a run that succeeded: rank 0, whose process may host the
  // store, waits until every rank is done with it.
  void finish();

 private:
  void run(const std::string& what, const std::function<void()>& collective);

  LaunchEnvironment env_;
  std::chrono::milliseconds timeout_;
  int64_t exchanges_ = 0;  // rank0_value calls so far
  c10::intrusive_ptr<c10d::Store> store_;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> group_;
};

// The process's group, as torch.distributed keeps a default one: set up once
// from the environment by the command line (init_data_parallel), null when
// dcomp runs alone.
DataParallel* data_parallel();
void init_data_parallel(std::chrono::milliseconds timeout);
void finish_data_parallel();  // after a command succeeded; nothing when alone

// Whether this process writes results: rank 0, or a process that runs alone.
bool is_rank0();

// Where rank 0 alone decides or writes (stage records, model files): its
// answer on every rank, and, for a write, every rank waiting until rank 0
// has made it. Alone, `value` itself.
bool rank0_decides(const std::string& what, bool value);
void wait_for_rank0(const std::string& what);

// This rank's part [begin, end) of the `count` items starting at `first`:
// contiguous, sizes differing by at most one.
struct Shard {
  int64_t begin = 0, end = 0;
};
Shard shard_of(int64_t first, int64_t count, int rank, int world_size);

}  // namespace dcomp
