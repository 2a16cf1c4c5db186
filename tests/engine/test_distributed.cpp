// The c10d process group wrapper: two ranks in one process (threads) over
// Gloo on the loopback interface, SyncBatchNorm over two ranks against one
// process with the whole batch, and the launcher environment.

#include "support/test_support.h"

#include "svanet/engine/distributed.h"
#include "svanet/models/batch_norm.h"
#include "svanet/models/registry.h"

#include <torch/torch.h>

#include <cstdlib>
#include <functional>
#include <iostream>
#include <memory>
#include <thread>

namespace svanet::test {
namespace {

/// A port unlikely to be taken, different per test run.
int64_t test_port(int offset) {
  return 20000 + static_cast<int64_t>((::getpid() * 7 + offset) % 20000);
}

/// Runs `body(rank, group)` for ranks 0 and 1 on two threads, each with its
/// own Gloo process group on `port`; returns each rank's error ("" if none).
std::vector<std::string> run_two_ranks(
    int64_t port,
    const std::function<void(int64_t, const std::shared_ptr<engine::ProcessGroup>&)>& body) {
  std::vector<std::string> errors(2);
  auto rank_main = [&](int64_t rank) {
    try {
      engine::DistributedEnv env;
      env.rank = rank;
      env.world_size = 2;
      env.master_port = port;
      body(rank,
           std::make_shared<engine::ProcessGroup>(env, torch::kCPU, std::chrono::seconds(60)));
    } catch (const std::exception& e) {
      errors[static_cast<size_t>(rank)] = e.what();
    }
  };
  std::thread r0(rank_main, 0), r1(rank_main, 1);
  r0.join();
  r1.join();
  return errors;
}

TEST(Distributed, TwoRanksReduceGatherAndAverageGradients) {
  if (!engine::distributed_available()) GTEST_SKIP() << "built without c10d/Gloo";
  const int64_t port = test_port(1);
  std::vector<torch::Tensor> sums(2), grads(2);
  std::vector<std::vector<std::string>> gathered(2);
  const auto errors =
      run_two_ranks(port, [&](int64_t rank, const std::shared_ptr<engine::ProcessGroup>& group) {
        std::vector<torch::Tensor> t{torch::full({3}, static_cast<double>(rank + 1))};
        group->all_reduce_sum(t);
        sums[static_cast<size_t>(rank)] = t[0];
        gathered[static_cast<size_t>(rank)] =
            group->all_gather_bytes(rank == 0 ? std::string("zero") : std::string(1000, 'x'));
        // Gradients 1 and 3 on the two ranks average to 2; a parameter
        // without a gradient contributes zeros.
        auto p = torch::zeros({2, 2}, torch::requires_grad());
        p.mutable_grad() = torch::full({2, 2}, rank == 0 ? 1.0 : 3.0);
        auto q = torch::zeros({4}, torch::requires_grad());
        if (rank == 1) q.mutable_grad() = torch::full({4}, 4.0);
        engine::average_gradients(*group, {p, q});
        grads[static_cast<size_t>(rank)] = torch::cat({p.grad().flatten(), q.grad()});
        group->barrier();
      });
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

/// What a training step gives: the logits, every parameter's gradient and
/// every buffer (BatchNorm's running statistics), by name.
struct Step {
  torch::Tensor logits;
  std::map<std::string, torch::Tensor> grads, buffers;
};

/// The tiny SvANet without its random parts (Monte Carlo pooling, the
/// scale-variant attention's random regions, dropout, stochastic depth), so
/// that two runs can be compared exactly.
models::SegmentationModel deterministic_model() {
  auto options = ModelOptions().num_classes(3).image_size(64);
  for (const auto& [key, value] :
       std::vector<std::pair<std::string, std::string>>{{"monte_carlo_attention", "false"},
                                                        {"scale_variant_attention", "false"},
                                                        {"guide_drop_path", "0"},
                                                        {"aspp_dropout", "0"}}) {
    options.set(key, value);
  }
  return create_model("svanet_test", options);
}

Step train_step(models::SegmentationModel& model, const torch::Tensor& x, const torch::Tensor& y,
                engine::ProcessGroup* group) {
  model->train();
  model->zero_grad();
  Step out;
  out.logits = model->forward(x);
  torch::nn::functional::cross_entropy(out.logits, y).backward();
  std::vector<torch::Tensor> params;
  for (auto& p : model->parameters()) params.push_back(p);
  if (group) engine::average_gradients(*group, params);
  for (const auto& item : model->named_parameters()) {
    out.grads[item.key()] = item.value().grad().defined() ? item.value().grad().clone()
                                                          : torch::zeros_like(item.value());
  }
  for (const auto& item : model->named_buffers()) out.buffers[item.key()] = item.value().clone();
  out.logits = out.logits.detach();
  return out;
}

/// The largest difference between two sets of tensors, relative to the
/// largest value, and the name where it is.
std::pair<double, std::string> worst(const std::map<std::string, torch::Tensor>& a,
                                     const std::map<std::string, torch::Tensor>& b) {
  std::pair<double, std::string> w{0.0, ""};
  for (const auto& [name, t] : a) {
    const auto& u = b.at(name);
    if (!t.is_floating_point()) {
      if (!torch::equal(t, u)) return {1e9, name};
      continue;
    }
    const double scale = std::max(1e-3, t.abs().max().item<double>());
    const double d = (t - u).abs().max().item<double>() / scale;
    if (d > w.first) w = {d, name};
  }
  return w;
}

/// Two ranks with half the batch each, SyncBatchNorm on or off.
std::vector<Step> two_rank_steps(models::SegmentationModel reference, const torch::Tensor& x,
                                 const torch::Tensor& y, bool sync, int offset) {
  const int64_t port = test_port(offset);
  std::vector<models::SegmentationModel> replicas;
  for (int r = 0; r < 2; ++r) {
    replicas.push_back(deterministic_model());
    torch::NoGradGuard no_grad;
    auto mine = replicas.back()->named_parameters();
    for (const auto& item : reference->named_parameters()) mine[item.key()].copy_(item.value());
    auto buffers = replicas.back()->named_buffers();
    for (const auto& item : reference->named_buffers()) buffers[item.key()].copy_(item.value());
  }
  const int64_t half = x.size(0) / 2;
  std::vector<Step> steps(2);
  const auto errors =
      run_two_ranks(port, [&](int64_t rank, const std::shared_ptr<engine::ProcessGroup>& group) {
        auto& model = replicas[static_cast<size_t>(rank)];
        if (sync) {
          EXPECT_GT(models::sync_batchnorm(*model, group), 10);
        }
        steps[static_cast<size_t>(rank)] = train_step(model, x.narrow(0, rank * half, half),
                                                      y.narrow(0, rank * half, half), group.get());
        models::sync_batchnorm(*model, nullptr);
      });
  EXPECT_EQ(errors[0], "");
  EXPECT_EQ(errors[1], "");
  return steps;
}

TEST(Distributed, SyncBatchNormOverTwoRanksEqualsOneProcessWithTheWholeBatch) {
  if (!engine::distributed_available()) GTEST_SKIP() << "built without c10d/Gloo";
  // Gloo's threads and the model's intra-op threads would share 2 cores.
  const int threads = torch::get_num_threads();
  torch::set_num_threads(1);
  torch::manual_seed(5);
  for (const int64_t batch : {4, 2}) {  // 2 + 2 images, and 1 + 1 (ASPP's pooled branch)
    SCOPED_TRACE("batch " + std::to_string(batch));
    auto reference = deterministic_model();
    const auto x = torch::randn({batch, 3, 64, 64});
    const auto y = torch::randint(3, {batch, 64, 64}, torch::kLong);
    // One process with the whole batch (a copy: the step updates the
    // running statistics), twice to show the model has no randomness left.
    auto one = deterministic_model();
    auto two = deterministic_model();
    for (auto* m : {&one, &two}) {
      torch::NoGradGuard no_grad;
      auto mine = (*m)->named_parameters();
      for (const auto& item : reference->named_parameters()) mine[item.key()].copy_(item.value());
    }
    const Step whole = train_step(one, x, y, nullptr);
    const Step again = train_step(two, x, y, nullptr);
    ASSERT_TRUE(torch::equal(whole.logits, again.logits)) << "the model is not deterministic";

    const auto synced =
        two_rank_steps(reference, x, y, /*sync=*/true, 10 + static_cast<int>(batch));
    const auto logits = torch::cat({synced[0].logits, synced[1].logits});
    const double logit_error = (logits - whole.logits).abs().max().item<double>();
    EXPECT_LT(logit_error, 1e-4);
    for (const auto& rank : synced) {
      // Averaged gradients: the same on both ranks and as one process's.
      const auto [g, gname] = worst(rank.grads, whole.grads);
      EXPECT_LT(g, 1e-3) << gname;
      // Running statistics from the global batch, on every rank.
      const auto [b, bname] = worst(rank.buffers, whole.buffers);
      EXPECT_LT(b, 1e-4) << bname;
      std::cout << "batch " << batch << ": logits max |diff| " << logit_error
                << ", gradients worst relative " << g << " (" << gname << "), buffers " << b
                << "\n";
    }

    // Without SyncBatchNorm each rank normalises over its own images: the
    // comparison above would fail.
    const auto local =
        two_rank_steps(reference, x, y, /*sync=*/false, 20 + static_cast<int>(batch));
    const auto local_logits = torch::cat({local[0].logits, local[1].logits});
    const double local_error = (local_logits - whole.logits).abs().max().item<double>();
    std::cout << "batch " << batch << " without SyncBatchNorm: logits max |diff| " << local_error
              << ", gradients worst relative " << worst(local[0].grads, whole.grads).first << "\n";
    EXPECT_GT(local_error, 1e-2);
  }
  torch::set_num_threads(threads);
}

TEST(Distributed, SyncBatchNormRefusesAPlainBatchNormAndIsPlainWithoutAGroup) {
  // Not synchronised, SyncBatchNorm2d is BatchNorm2d: same output, same
  // running statistics.
  torch::manual_seed(2);
  models::SyncBatchNorm2d mine(torch::nn::BatchNorm2dOptions(4).eps(1e-3));
  torch::nn::BatchNorm2d theirs(torch::nn::BatchNorm2dOptions(4).eps(1e-3));
  const auto x = torch::randn({3, 4, 5, 5}) * 3 + 1;
  EXPECT_TRUE(torch::equal(mine(x), theirs(x)));
  EXPECT_TRUE(torch::equal(mine->running_var, theirs->running_var));
  EXPECT_FALSE(mine->synchronised());

  struct Plain : torch::nn::Module {
    Plain() { register_module("norm", torch::nn::BatchNorm2d(4)); }
  };
  Plain plain;
  /// A group of two that is never asked to reduce.
  struct Fake : runtime::Collective {
    int64_t size() const override { return 2; }
    void all_reduce_sum(std::vector<torch::Tensor>&) override {}
  };
  EXPECT_EQ(models::sync_batchnorm(plain, nullptr), 0);
  ASSERT_THROWS_WITH(models::sync_batchnorm(plain, std::make_shared<Fake>()),
                     "layer 'norm' is a torch::nn::BatchNorm2d");
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
