#include "libtorch/data_parallel.h"

#include <fmt/core.h>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <cstdlib>
#include <stdexcept>

#include "core/first_line.h"

namespace dcomp {

namespace {

int int_variable(const std::function<const char*(const char*)>& getenv, const char* name, int min, int max) {
  const char* text = getenv(name);
  if (!text || !*text) throw std::runtime_error(std::string(name) + " is not set (torchrun sets it for every worker)");
  char* end = nullptr;
  errno = 0;
  const long value = std::strtol(text, &end, 10);
  if (errno || *end || value < min || value > max)
    throw std::runtime_error(fmt::format("{}={} is not a whole number in [{}, {}]", name, text, min, max));
  return int(value);
}

// DDP's default bucket: gradients are reduced about 25 MB at a time, so that
// one collective carries many small tensors and no copy is larger than that.
constexpr int64_t kBucketBytes = 25 << 20;

std::unique_ptr<DataParallel> process_group;

}  // namespace

std::optional<LaunchEnvironment> launch_environment(const std::function<const char*(const char*)>& getenv) {
  const char* world = getenv("WORLD_SIZE");
  if (!world || !*world) return std::nullopt;
  LaunchEnvironment env;
  env.world_size = int_variable(getenv, "WORLD_SIZE", 1, 1 << 16);
  env.rank = int_variable(getenv, "RANK", 0, env.world_size - 1);
  env.local_rank = getenv("LOCAL_RANK") ? int_variable(getenv, "LOCAL_RANK", 0, env.world_size - 1) : 0;
  const char* addr = getenv("MASTER_ADDR");
  if (!addr || !*addr) throw std::runtime_error("MASTER_ADDR is not set (torchrun sets it for every worker)");
  env.master_addr = addr;
  env.master_port = int_variable(getenv, "MASTER_PORT", 1, 65535);
  const char* agent = getenv("TORCHELASTIC_USE_AGENT_STORE");
  env.agent_store = agent && std::string(agent) == "True";
  if (getenv("TORCHELASTIC_RESTART_COUNT"))
    env.restart_count = int_variable(getenv, "TORCHELASTIC_RESTART_COUNT", 0, 1 << 20);
  return env;
}

DataParallel::DataParallel(const LaunchEnvironment& env, std::chrono::milliseconds timeout)
    : env_(env), timeout_(timeout) {
  const std::string where = fmt::format("{}:{}", env.master_addr, env.master_port);
  try {
    c10d::TCPStoreOptions options;
    options.port = uint16_t(env.master_port);
    options.isServer = !env.agent_store && env.rank == 0;
    options.numWorkers = size_t(env.world_size);
    options.waitWorkers = false;  // the process group's own rendezvous waits for them
    options.timeout = timeout;
    c10::intrusive_ptr<c10d::Store> store = c10::make_intrusive<c10d::TCPStore>(env.master_addr, options);
    if (env.agent_store)
      store = c10::make_intrusive<c10d::PrefixStore>("/worker/attempt_" + std::to_string(env.restart_count), store);
    store_ = store;
  } catch (const std::exception& e) {
    throw std::runtime_error(fmt::format("rank {}: cannot {} the store at {}: {}", env.rank,
                                         !env.agent_store && env.rank == 0 ? "host" : "reach", where,
                                         first_line(e.what())));
  }
  try {
    auto options = c10d::ProcessGroupGloo::Options::create(timeout);
    const char* interface = std::getenv("GLOO_SOCKET_IFNAME");
    options->devices.push_back(interface && *interface
                                   ? c10d::ProcessGroupGloo::createDeviceForInterface(interface)
                                   : c10d::ProcessGroupGloo::createDefaultDevice());
    group_ = c10::make_intrusive<c10d::ProcessGroupGloo>(store_, env.rank, env.world_size, options);
  } catch (const std::exception& e) {
    throw std::runtime_error(fmt::format("rank {}: the {} ranks did not all join through {} within {} s: {}", env.rank,
                                         env.world_size, where, timeout.count() / 1000.0, first_line(e.what())));
  }
}

DataParallel::~DataParallel() = default;

void DataParallel::run(const std::string& what, const std::function<void()>& collective) {
  try {
    collective();
  } catch (const std::exception& e) {
    const std::string lost = env_.world_size == 2 ? fmt::format("rank {}", 1 - env_.rank) : "a peer rank";
    throw std::runtime_error(fmt::format("rank {}: lost {} during {} (stopped, or silent for {} s): {}", env_.rank,
                                         lost, what, timeout_.count() / 1000.0, first_line(e.what())));
  }
}

std::string DataParallel::rank0_value(const std::string& what, const std::string& value) {
  // Numbered: every rank makes the same exchanges in the same order, and a
  // name may come back (each training stage checks "weights after epoch 1"),
  // so a rank that gets there first must not read rank 0's earlier value.
  const std::string key = fmt::format("dcomp/{}/{}", exchanges_++, what);
  std::vector<uint8_t> rank0;
  run(what, [&] {
    if (env_.rank == 0) store_->set(key, std::vector<uint8_t>(value.begin(), value.end()));
    rank0 = env_.rank == 0 ? std::vector<uint8_t>(value.begin(), value.end()) : store_->get(key);
  });
  return std::string(rank0.begin(), rank0.end());
}

void DataParallel::check_same(const std::string& what, const std::string& value) {
  if (rank0_value(what, value) != value)
    throw std::invalid_argument(
        fmt::format("rank {}'s {} differs from rank 0's; every rank must be started alike", env_.rank, what));
}

void DataParallel::broadcast_from_rank0(const std::vector<torch::Tensor>& tensors, const std::string& what) {
  torch::NoGradGuard no_grad;
  for (const torch::Tensor& t : tensors) {
    std::vector<torch::Tensor> one{t.is_contiguous() ? t : t.contiguous()};
    run("the broadcast of " + what, [&] { group_->broadcast(one)->wait(timeout_); });
    if (!one[0].is_same(t)) t.copy_(one[0]);
  }
}

void DataParallel::sum_gradients(const std::vector<torch::Tensor>& parameters, double weight) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> grads;
  for (const torch::Tensor& p : parameters) {
    if (!p.requires_grad()) continue;
    if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
    grads.push_back(p.grad());
  }
  // Buckets of consecutive gradients of one dtype: flatten, reduce, scatter back.
  for (size_t first = 0; first < grads.size();) {
    size_t last = first;
    int64_t bytes = 0;
    while (last < grads.size() && grads[last].scalar_type() == grads[first].scalar_type() &&
           (last == first || bytes + grads[last].nbytes() <= size_t(kBucketBytes)))
      bytes += int64_t(grads[last++].nbytes());
    std::vector<torch::Tensor> flat_parts;
    for (size_t i = first; i < last; ++i) flat_parts.push_back(grads[i].reshape(-1));
    std::vector<torch::Tensor> bucket{torch::cat(flat_parts).mul_(weight)};
    run("the gradient allreduce", [&] { group_->allreduce(bucket)->wait(timeout_); });
    int64_t offset = 0;
    for (size_t i = first; i < last; ++i) {
      const int64_t n = grads[i].numel();
      grads[i].copy_(bucket[0].slice(0, offset, offset + n).view_as(grads[i]));
      offset += n;
    }
    first = last;
  }
}

void DataParallel::sum(torch::Tensor& tensor, const std::string& what) {
  std::vector<torch::Tensor> one{tensor.contiguous()};
  run(what, [&] { group_->allreduce(one)->wait(timeout_); });
  tensor = one[0];
}

void DataParallel::finish() {
  run("the end of the run", [&] {
    store_->set("dcomp/finished/" + std::to_string(env_.rank), std::vector<uint8_t>{});
    if (env_.rank != 0) return;
    std::vector<std::string> keys;
    for (int r = 1; r < env_.world_size; ++r) keys.push_back("dcomp/finished/" + std::to_string(r));
    store_->wait(keys, timeout_);
  });
}

DataParallel* data_parallel() { return process_group.get(); }

void finish_data_parallel() {
  if (!process_group) return;
  process_group->finish();
  process_group.reset();
}

void init_data_parallel(std::chrono::milliseconds timeout) {
  if (process_group) return;
  const auto env = launch_environment([](const char* name) { return std::getenv(name); });
  if (env) process_group = std::make_unique<DataParallel>(*env, timeout);
}

bool is_rank0() { return !process_group || process_group->rank() == 0; }

bool rank0_decides(const std::string& what, bool value) {
  return process_group ? process_group->rank0_value(what, value ? "1" : "0") == "1" : value;
}

void wait_for_rank0(const std::string& what) {
  if (process_group) process_group->rank0_value(what, "");
}

Shard shard_of(int64_t first, int64_t count, int rank, int world_size) {
  return {first + count * rank / world_size, first + count * (rank + 1) / world_size};
}

}  // namespace dcomp
