#include "svanet/models/batch_norm.h"

#include "svanet/common/error.h"

#include <torch/torch.h>

namespace svanet::models {

namespace {

/// Keeps the group alive inside an autograd graph.
struct CollectiveCapsule : torch::CustomClassHolder {
  explicit CollectiveCapsule(std::shared_ptr<runtime::Collective> c) : collective(std::move(c)) {}
  std::shared_ptr<runtime::Collective> collective;
};

/// A sum over the processes whose gradient is the sum of the processes'
/// gradients: process p's loss depends on the global sum S = sum_q s_q, so
/// d(sum_p L_p)/d s_q = sum_p dL_p/dS.
struct AllReduceSum : torch::autograd::Function<AllReduceSum> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& local,
                               const std::shared_ptr<runtime::Collective>& collective) {
    ctx->saved_data["collective"] =
        c10::IValue::make_capsule(c10::make_intrusive<CollectiveCapsule>(collective));
    std::vector<torch::Tensor> sums{local.detach().contiguous().clone()};
    collective->all_reduce_sum(sums);
    return sums[0];
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto holder = ctx->saved_data["collective"].toCapsule();
    auto& collective = static_cast<CollectiveCapsule*>(holder.get())->collective;
    std::vector<torch::Tensor> sums{grads[0].contiguous().clone()};
    collective->all_reduce_sum(sums);
    return {sums[0], torch::Tensor()};
  }
};

}  // namespace

SyncBatchNorm2dImpl::SyncBatchNorm2dImpl(const torch::nn::BatchNorm2dOptions& options)
    : options(options) {
  reset();
}

void SyncBatchNorm2dImpl::reset() {
  // What torch::nn::BatchNorm2dImpl registers, in its order.
  const int64_t c = options.num_features();
  if (options.affine()) {
    weight = register_parameter("weight", torch::ones({c}));
    bias = register_parameter("bias", torch::zeros({c}));
  } else {
    weight = register_parameter("weight", torch::Tensor(), /*requires_grad=*/false);
    bias = register_parameter("bias", torch::Tensor(), /*requires_grad=*/false);
  }
  if (options.track_running_stats()) {
    running_mean = register_buffer("running_mean", torch::zeros({c}));
    running_var = register_buffer("running_var", torch::ones({c}));
    num_batches_tracked = register_buffer("num_batches_tracked", torch::tensor(0, torch::kLong));
  } else {
    running_mean = register_buffer("running_mean", torch::Tensor());
    running_var = register_buffer("running_var", torch::Tensor());
    num_batches_tracked = register_buffer("num_batches_tracked", torch::Tensor());
  }
}

void SyncBatchNorm2dImpl::pretty_print(std::ostream& stream) const {
  stream << "svanet::models::SyncBatchNorm2d(" << options.num_features()
         << ", eps=" << options.eps() << ", momentum=";
  if (options.momentum().has_value()) {
    stream << *options.momentum();
  } else {
    stream << "None";
  }
  stream << ", affine=" << (options.affine() ? "true" : "false")
         << ", track_running_stats=" << (options.track_running_stats() ? "true" : "false")
         << (synchronised() ? ", synchronised" : "") << ")";
}

torch::Tensor SyncBatchNorm2dImpl::forward(const torch::Tensor& input) {
  TORCH_CHECK(input.dim() == 4, "SyncBatchNorm2d: expected a 4-d input (B, C, H, W), got ",
              input.dim(), " dimensions");
  if (is_training() && synchronised()) return synchronised_forward(input);
  // torch::nn::BatchNorm2dImpl::forward, step for step.
  double factor = options.momentum().value_or(0.0);
  if (is_training() && options.track_running_stats() && num_batches_tracked.defined()) {
    num_batches_tracked += 1;
    if (!options.momentum().has_value()) factor = 1.0 / num_batches_tracked.item<double>();
  }
  return torch::batch_norm(input, weight, bias, running_mean, running_var,
                           is_training() || !options.track_running_stats(), factor, options.eps(),
                           at::globalContext().userEnabledCuDNN());
}

torch::Tensor SyncBatchNorm2dImpl::synchronised_forward(const torch::Tensor& input) {
  const int64_t c = input.size(1);
  TORCH_CHECK(c == options.num_features(), "SyncBatchNorm2d: expected ", options.num_features(),
              " channels, got ", c);
  // Statistics in fp32 whatever autocast gave us (as cuDNN's batch norm).
  const auto x = input.to(torch::kFloat);
  const bool running = options.track_running_stats();
  // Sums of x - k for k near the mean (the running mean) keep E[(x-k)^2] -
  // E[x-k]^2 from cancelling catastrophically when the mean is large.
  const auto shift = running ? running_mean.detach().to(torch::kFloat).clone().view({1, c, 1, 1})
                             : torch::zeros({1, c, 1, 1}, x.options());
  const auto centred = x - shift;
  // (2C + 1): per-channel sums of x - k and (x - k)^2, and the element count.
  const auto local = torch::cat(
      {centred.sum({0, 2, 3}), centred.square().sum({0, 2, 3}),
       torch::full({1}, static_cast<double>(x.numel() / std::max<int64_t>(1, c)), x.options())});
  const auto sums = AllReduceSum::apply(local, collective_);
  const auto count = sums.narrow(0, 2 * c, 1);
  const auto mean = sums.narrow(0, 0, c) / count;                 // of x - k
  const auto var = sums.narrow(0, c, c) / count - mean.square();  // biased
  auto y = (centred - mean.view({1, c, 1, 1})) *
           torch::rsqrt(var.clamp_min(0) + options.eps()).view({1, c, 1, 1});
  if (options.affine()) y = y * weight.view({1, c, 1, 1}) + bias.view({1, c, 1, 1});
  if (running) {
    // On the device (no read of a value, which would wait for a GPU); the
    // variance unbiased over the global count, as BatchNorm2d's.
    torch::NoGradGuard no_grad;
    num_batches_tracked.add_(1);
    const auto batch_mean = (mean + shift.view({c})).to(running_mean.dtype());
    const auto batch_var = (var * count / (count - 1)).to(running_var.dtype());
    if (options.momentum().has_value()) {
      running_mean.lerp_(batch_mean, *options.momentum());
      running_var.lerp_(batch_var, *options.momentum());
    } else {  // a cumulative average
      const auto weight = 1.0 / num_batches_tracked.to(running_mean.dtype());
      running_mean.lerp_(batch_mean, weight);
      running_var.lerp_(batch_var, weight);
    }
  }
  return y.to(input.scalar_type());
}

int64_t sync_batchnorm(torch::nn::Module& module,
                       const std::shared_ptr<runtime::Collective>& collective) {
  int64_t count = 0;
  auto visit = [&](const std::string& name, torch::nn::Module* m) {
    if (auto* norm = dynamic_cast<SyncBatchNorm2dImpl*>(m)) {
      norm->set_collective(collective);
      ++count;
    } else if (collective && dynamic_cast<torch::nn::BatchNorm2dImpl*>(m) != nullptr) {
      SVANET_FAIL("sync_batchnorm: layer '", name,
                  "' is a torch::nn::BatchNorm2d, which cannot synchronise its statistics; build "
                  "it as svanet::models::SyncBatchNorm2d (a drop-in replacement)");
    }
  };
  // The module itself need not live in a shared_ptr (named_modules with
  // include_self would require it).
  visit("", &module);
  for (const auto& item : module.named_modules("", /*include_self=*/false)) {
    visit(item.key(), item.value().get());
  }
  return count;
}

}  // namespace svanet::models
