// The c10d process group wrapper: two ranks in one process (threads) over
// Gloo on the loopback interface, and the launcher environment.

#include "support/test_support.h"

#include "svanet/engine/distributed.h"

#include <torch/torch.h>

#include <cstdlib>
#include <thread>

namespace svanet::test {
namespace {

/// A port unlikely to be taken, different per test run.
int64_t test_port(int offset) {
  return 20000 + static_cast<int64_t>((::getpid() * 7 + offset) % 20000);
}

TEST(Distributed, TwoRanksReduceGatherAndAverageGradients) {
  if (!engine::distributed_available()) GTEST_SKIP() << "built without c10d/Gloo";
  const int64_t port = test_port(1);
  std::vector<torch::Tensor> sums(2), grads(2);
  std::vector<std::vector<std::string>> gathered(2);
  std::vector<std::string> errors(2);
  auto rank_main = [&](int64_t rank) {
    try {
      engine::DistributedEnv env;
      env.rank = rank;
      env.world_size = 2;
      env.master_port = port;
      engine::ProcessGroup group(env, torch::kCPU, std::chrono::seconds(60));
      std::vector<torch::Tensor> t{torch::full({3}, static_cast<double>(rank + 1))};
      group.all_reduce_sum(t);
      sums[static_cast<size_t>(rank)] = t[0];
      gathered[static_cast<size_t>(rank)] =
          group.all_gather_bytes(rank == 0 ? std::string("zero") : std::string(1000, 'x'));
      // Gradients 1 and 3 on the two ranks average to 2; a parameter
      // without a gradient contributes zeros.
      auto p = torch::zeros({2, 2}, torch::requires_grad());
      p.mutable_grad() = torch::full({2, 2}, rank == 0 ? 1.0 : 3.0);
      auto q = torch::zeros({4}, torch::requires_grad());
      if (rank == 1) q.mutable_grad() = torch::full({4}, 4.0);
      engine::average_gradients(group, {p, q});
      grads[static_cast<size_t>(rank)] = torch::cat({p.grad().flatten(), q.grad()});
      group.barrier();
    } catch (const std::exception& e) {
      errors[static_cast<size_t>(rank)] = e.what();
    }
  };
  std::thread r0(rank_main, 0), r1(rank_main, 1);
  r0.join();
  r1.join();
  ASSERT_EQ(errors[0], "");
  ASSERT_EQ(errors[1], "");
  for (int r = 0; r < 2; ++r) {
    EXPECT_TRUE(torch::equal(sums[static_cast<size_t>(r)], torch::full({3}, 3.0)));
    ASSERT_EQ(gathered[static_cast<size_t>(r)].size(), 2u);
    EXPECT_EQ(gathered[static_cast<size_t>(r)][0], "zero");
    EXPECT_EQ(gathered[static_cast<size_t>(r)][1], std::string(1000, 'x'));
    const auto expected = torch::tensor({2.0F, 2.0F, 2.0F, 2.0F, 2.0F, 2.0F, 2.0F, 2.0F});
    EXPECT_TRUE(torch::equal(grads[static_cast<size_t>(r)], expected))
        << grads[static_cast<size_t>(r)];
  }
}

TEST(Distributed, ReadsTheLaunchersEnvironment) {
  auto set = [](const char* k, const char* v) { ::setenv(k, v, 1); };
  auto unset = [](std::initializer_list<const char*> keys) {
    for (const char* k : keys) ::unsetenv(k);
  };
  const std::initializer_list<const char*> all = {"RANK",
                                                  "WORLD_SIZE",
                                                  "LOCAL_RANK",
                                                  "SLURM_PROCID",
                                                  "SLURM_NTASKS",
                                                  "SLURM_LOCALID",
                                                  "OMPI_COMM_WORLD_RANK",
                                                  "OMPI_COMM_WORLD_SIZE",
                                                  "OMPI_COMM_WORLD_LOCAL_RANK",
                                                  "MASTER_ADDR",
                                                  "MASTER_PORT"};
  unset(all);
  auto single = engine::DistributedEnv::from_environment();
  EXPECT_FALSE(single.active());
  EXPECT_EQ(single.launcher, "");
  set("RANK", "1");
  set("WORLD_SIZE", "4");
  set("LOCAL_RANK", "1");
  set("MASTER_ADDR", "10.0.0.2");
  set("MASTER_PORT", "29511");
  auto torchrun = engine::DistributedEnv::from_environment();
  EXPECT_EQ(torchrun.rank, 1);
  EXPECT_EQ(torchrun.world_size, 4);
  EXPECT_EQ(torchrun.local_rank, 1);
  EXPECT_EQ(torchrun.master_addr, "10.0.0.2");
  EXPECT_EQ(torchrun.master_port, 29511);
  EXPECT_EQ(torchrun.launcher, "torchrun");
  unset(all);
  set("SLURM_PROCID", "3");
  set("SLURM_NTASKS", "8");
  set("SLURM_LOCALID", "3");
  EXPECT_EQ(engine::DistributedEnv::from_environment().launcher, "slurm");
  set("SLURM_PROCID", "9");
  ASSERT_THROWS_WITH(engine::DistributedEnv::from_environment(), "rank 9 is outside 0..7");
  unset(all);
  set("WORLD_SIZE", "2");
  ASSERT_THROWS_WITH(engine::DistributedEnv::from_environment(),
                     "WORLD_SIZE is set but RANK is not");
  set("RANK", "x");
  ASSERT_THROWS_WITH(engine::DistributedEnv::from_environment(), "RANK='x' is not a whole number");
  unset(all);
}

}  // namespace
}  // namespace svanet::test
