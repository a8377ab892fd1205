// DataParallel's exchanges through the store, with two ranks as two threads
// of this process on loopback (the 2-process tests are data_parallel_test.sh).
#include "libtorch/data_parallel.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <thread>

namespace dcomp {
namespace {

int free_port() {
  const int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t size = sizeof a;
  ::bind(s, reinterpret_cast<sockaddr*>(&a), size);
  ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &size);
  ::close(s);
  return ntohs(a.sin_port);
}

// Runs `body(group)` on ranks 0 and 1 at once; rethrows the first failure.
void on_two_ranks(const std::function<void(DataParallel&)>& body) {
  ::setenv("GLOO_SOCKET_IFNAME", "lo", 1);
  const int port = free_port();
  std::exception_ptr failure[2];
  auto rank = [&](int r) {
    try {
      LaunchEnvironment env;
      env.rank = r;
      env.world_size = 2;
      env.master_addr = "127.0.0.1";
      env.master_port = port;
      DataParallel group(env, std::chrono::seconds(10));
      body(group);
      group.finish();
    } catch (...) {
      failure[r] = std::current_exception();
    }
  };
  std::thread second(rank, 1);
  rank(0);
  second.join();
  for (const std::exception_ptr& f : failure)
    if (f) std::rethrow_exception(f);
}

// A name may come back (every training stage of a pipeline checks "weights
// after epoch 1"): a rank that gets there first must wait for rank 0's new
// value, not read the one rank 0 left under that name before.
TEST(DataParallel, ARepeatedNameGivesRankZerosNewValue) {
  std::string second_value;
  on_two_ranks([&](DataParallel& group) {
    group.rank0_value("epoch", group.rank() == 0 ? "first" : "");
    if (group.rank() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(300));
    const std::string v = group.rank0_value("epoch", group.rank() == 0 ? "second" : "");
    if (group.rank() == 1) second_value = v;
  });
  EXPECT_EQ(second_value, "second");
}

TEST(DataParallel, CheckSameNamesTheRankThatDiffers) {
  std::string error;
  on_two_ranks([&](DataParallel& group) {
    try {
      group.check_same("recipe", group.rank() == 0 ? "a" : "b");
    } catch (const std::exception& e) {
      error = e.what();
    }
  });
  EXPECT_EQ(error, "rank 1's recipe differs from rank 0's; every rank must be started alike");
}

TEST(DataParallel, SumsAndBroadcastsAcrossRanks) {
  torch::Tensor sums[2], broadcasts[2];
  on_two_ranks([&](DataParallel& group) {
    const int r = group.rank();
    sums[r] = torch::full({3}, float(r + 1));
    group.sum(sums[r], "a test sum");
    broadcasts[r] = torch::full({2, 2}, float(10 * r + 7));
    group.broadcast_from_rank0({broadcasts[r]}, "a test tensor");
  });
  for (int r = 0; r < 2; ++r) {
    EXPECT_TRUE(torch::equal(sums[r], torch::full({3}, 3.0f)));
    EXPECT_TRUE(torch::equal(broadcasts[r], torch::full({2, 2}, 7.0f)));
  }
}

}  // namespace
}  // namespace dcomp
