#include "svanet/engine/distributed.h"

#include "svanet/common/error.h"
#include "svanet/utils/text.h"

#include <torch/torch.h>

#if SVANET_HAVE_GLOO
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#endif
#if SVANET_HAVE_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <cstdlib>
#include <cstring>
#include <optional>

namespace svanet::engine {

namespace {

std::optional<std::string> env(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return std::nullopt;
  return std::string(v);
}

int64_t env_int(const char* name, const std::string& value) {
  try {
    return utils::parse_int(value);
  } catch (const Error&) {
    SVANET_FAIL("environment variable ", name, "='", value, "' is not a whole number");
  }
}

}  // namespace

DistributedEnv DistributedEnv::from_environment() {
  DistributedEnv e;
  struct Names {
    const char* rank;
    const char* size;
    const char* local;
    const char* launcher;
  };
  const Names launchers[] = {
      {"RANK", "WORLD_SIZE", "LOCAL_RANK", "torchrun"},
      {"SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID", "slurm"},
      {"OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK", "openmpi"}};
  for (const auto& n : launchers) {
    const auto size = env(n.size);
    if (!size) continue;
    e.world_size = env_int(n.size, *size);
    const auto rank = env(n.rank);
    SVANET_CHECK(rank.has_value(), n.size, " is set but ", n.rank, " is not");
    e.rank = env_int(n.rank, *rank);
    const auto local = env(n.local);
    e.local_rank = local ? env_int(n.local, *local) : 0;
    e.launcher = n.launcher;
    break;
  }
  SVANET_CHECK(e.world_size >= 1, "the world size must be >= 1, got ", e.world_size);
  SVANET_CHECK(e.rank >= 0 && e.rank < e.world_size, "rank ", e.rank, " is outside 0..",
               e.world_size - 1);
  if (const auto addr = env("MASTER_ADDR")) e.master_addr = *addr;
  if (const auto port = env("MASTER_PORT")) e.master_port = env_int("MASTER_PORT", *port);
  SVANET_CHECK(e.master_port > 0 && e.master_port < 65536, "MASTER_PORT=", e.master_port,
               " is not a port number");
  if (!e.active()) e.launcher.clear();
  return e;
}

bool distributed_available() {
  return SVANET_HAVE_GLOO != 0;
}

#if SVANET_HAVE_GLOO

struct ProcessGroup::Impl {
  c10::intrusive_ptr<c10d::Store> store;
  // The concrete groups: their base class differs between LibTorch 1.x
  // (ProcessGroup) and 2.x (Backend), their collective calls do not.
  c10::intrusive_ptr<c10d::ProcessGroupGloo> gloo;
#if SVANET_HAVE_NCCL
  c10::intrusive_ptr<c10d::ProcessGroupNCCL> nccl;
#endif
  std::string backend;
  int64_t rank = 0, size = 1;
  std::chrono::seconds timeout{0};
  torch::Device device{torch::kCPU};

  /// Runs a collective on whichever group this is and waits for it.
  template <typename F>
  void run(F&& collective) {
#if SVANET_HAVE_NCCL
    if (nccl) {
      collective(*nccl)->wait();
      return;
    }
#endif
    collective(*gloo)->wait();
  }
};

ProcessGroup::ProcessGroup(const DistributedEnv& env_values, const torch::Device& device,
                           std::chrono::seconds timeout)
    : impl_(std::make_unique<Impl>()) {
  impl_->rank = env_values.rank;
  impl_->size = env_values.world_size;
  impl_->device = device;
  impl_->timeout = timeout;
  c10d::TCPStoreOptions store_options;
  store_options.port = static_cast<std::uint16_t>(env_values.master_port);
  store_options.isServer = env_values.rank == 0;
  store_options.numWorkers = static_cast<std::size_t>(env_values.world_size);
  store_options.timeout = timeout;
  try {
    impl_->store = c10::make_intrusive<c10d::TCPStore>(env_values.master_addr, store_options);
  } catch (const std::exception& e) {
    SVANET_FAIL("rank ", env_values.rank, ": cannot reach the rendezvous at ",
                env_values.master_addr, ":", env_values.master_port,
                " (MASTER_ADDR/MASTER_PORT): ", e.what());
  }
  const auto rank = static_cast<int>(env_values.rank);
  const auto size = static_cast<int>(env_values.world_size);
#if SVANET_HAVE_NCCL
  if (device.is_cuda()) {
    auto options = c10d::ProcessGroupNCCL::Options::create();
    // As Gloo's, instead of NCCL's own default. LibTorch 2.x's watchdog
    // aborts a collective that outlasts it; 1.x only with
    // NCCL_BLOCKING_WAIT=1 or NCCL_ASYNC_ERROR_HANDLING=1.
    options->timeout = timeout;
    impl_->nccl = c10::make_intrusive<c10d::ProcessGroupNCCL>(
        c10::make_intrusive<c10d::PrefixStore>("svanet", impl_->store), rank, size, options);
    impl_->backend = "nccl";
    return;
  }
#endif
  auto options = c10d::ProcessGroupGloo::Options::create();
  options->timeout = timeout;
  if (const auto iface = env("GLOO_SOCKET_IFNAME")) {
    options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(*iface));
  } else if (env_values.master_addr == "127.0.0.1" || env_values.master_addr == "localhost") {
    // Every process is on this machine: talk over the loopback interface.
    options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
  } else {
    options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
  }
  impl_->gloo = c10::make_intrusive<c10d::ProcessGroupGloo>(
      c10::make_intrusive<c10d::PrefixStore>("svanet", impl_->store), rank, size, options);
  impl_->backend = "gloo";
}

ProcessGroup::~ProcessGroup() = default;

int64_t ProcessGroup::rank() const {
  return impl_->rank;
}
int64_t ProcessGroup::size() const {
  return impl_->size;
}
std::string ProcessGroup::backend() const {
  return impl_->backend;
}
std::chrono::seconds ProcessGroup::timeout() const {
  return impl_->timeout;
}

void ProcessGroup::all_reduce_sum(std::vector<torch::Tensor>& tensors) {
  for (auto& t : tensors) {
    std::vector<at::Tensor> one{t};
    impl_->run([&](auto& g) { return g.allreduce(one); });
  }
}

void ProcessGroup::broadcast(std::vector<torch::Tensor>& tensors, int64_t root) {
  c10d::BroadcastOptions options;
  options.rootRank = root;
  for (auto& t : tensors) {
    std::vector<at::Tensor> one{t};
    impl_->run([&](auto& g) { return g.broadcast(one, options); });
  }
}

std::vector<std::string> ProcessGroup::all_gather_bytes(const std::string& bytes) {
  const auto on = torch::TensorOptions().device(impl_->device);
  // Sizes first, then every buffer padded to the largest.
  auto size = torch::tensor({static_cast<int64_t>(bytes.size())}, torch::kLong).to(impl_->device);
  std::vector<at::Tensor> sizes_in{size};
  std::vector<std::vector<at::Tensor>> sizes_out(1);
  for (int64_t r = 0; r < impl_->size; ++r) sizes_out[0].push_back(torch::empty_like(size));
  impl_->run([&](auto& g) { return g.allgather(sizes_out, sizes_in); });
  std::vector<int64_t> lengths;
  int64_t longest = 1;
  for (const auto& s : sizes_out[0]) {
    lengths.push_back(s.cpu().item<int64_t>());
    longest = std::max(longest, lengths.back());
  }
  auto buffer = torch::zeros({longest}, torch::kByte);
  std::memcpy(buffer.data_ptr<uint8_t>(), bytes.data(), bytes.size());
  std::vector<at::Tensor> in{buffer.to(impl_->device)};
  std::vector<std::vector<at::Tensor>> out(1);
  for (int64_t r = 0; r < impl_->size; ++r)
    out[0].push_back(torch::empty({longest}, on.dtype(torch::kByte)));
  impl_->run([&](auto& g) { return g.allgather(out, in); });
  std::vector<std::string> result;
  for (int64_t r = 0; r < impl_->size; ++r) {
    const auto cpu = out[0][static_cast<size_t>(r)].cpu();
    result.emplace_back(reinterpret_cast<const char*>(cpu.data_ptr<uint8_t>()),
                        static_cast<size_t>(lengths[static_cast<size_t>(r)]));
  }
  return result;
}

void ProcessGroup::barrier() {
  std::vector<torch::Tensor> one{torch::zeros({1}, torch::TensorOptions().device(impl_->device))};
  all_reduce_sum(one);
}

#else  // !SVANET_HAVE_GLOO

struct ProcessGroup::Impl {};

ProcessGroup::ProcessGroup(const DistributedEnv&, const torch::Device&, std::chrono::seconds) {
  SVANET_FAIL(
      "this svanet was built without LibTorch's distributed backend (c10d with Gloo), so "
      "it cannot train with WORLD_SIZE > 1");
}
ProcessGroup::~ProcessGroup() = default;
int64_t ProcessGroup::rank() const {
  return 0;
}
int64_t ProcessGroup::size() const {
  return 1;
}
std::string ProcessGroup::backend() const {
  return "none";
}
std::chrono::seconds ProcessGroup::timeout() const {
  return std::chrono::seconds(0);
}
void ProcessGroup::all_reduce_sum(std::vector<torch::Tensor>&) {}
void ProcessGroup::broadcast(std::vector<torch::Tensor>&, int64_t) {}
std::vector<std::string> ProcessGroup::all_gather_bytes(const std::string& bytes) {
  return {bytes};
}
void ProcessGroup::barrier() {}

#endif

void average_gradients(ProcessGroup& group, const std::vector<torch::Tensor>& parameters) {
  if (group.size() <= 1) return;
  torch::NoGradGuard no_grad;
  constexpr int64_t kBucketBytes = 32 << 20;
  std::vector<torch::Tensor> bucket;
  int64_t bytes = 0;
  auto flush = [&] {
    if (bucket.empty()) return;
    std::vector<torch::Tensor> flat_views;
    flat_views.reserve(bucket.size());
    for (auto& p : bucket) flat_views.push_back(p.grad().reshape({-1}));
    std::vector<torch::Tensor> flat{torch::cat(flat_views)};
    group.all_reduce_sum(flat);
    flat[0].div_(static_cast<double>(group.size()));
    int64_t offset = 0;
    for (auto& p : bucket) {
      const int64_t n = p.numel();
      p.mutable_grad().copy_(flat[0].narrow(0, offset, n).view_as(p));
      offset += n;
    }
    bucket.clear();
    bytes = 0;
  };
  for (const auto& p : parameters) {
    if (!p.requires_grad()) continue;
    auto& grad = const_cast<torch::Tensor&>(p).mutable_grad();
    if (!grad.defined()) grad = torch::zeros_like(p);
    if (!bucket.empty() && bucket.front().scalar_type() != p.scalar_type()) flush();
    bucket.push_back(p);
    bytes += p.numel() * static_cast<int64_t>(p.element_size());
    if (bytes >= kBucketBytes) flush();
  }
  flush();
}

void broadcast_module(ProcessGroup& group, torch::nn::Module& module, bool buffers_only) {
  if (group.size() <= 1) return;
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> tensors;
  if (!buffers_only) {
    for (auto& p : module.parameters()) tensors.push_back(p);
  }
  for (auto& b : module.buffers()) tensors.push_back(b);
  // Broadcast in place: parameters are leaves, so write through their data.
  std::vector<torch::Tensor> data;
  data.reserve(tensors.size());
  for (auto& t : tensors) data.push_back(t.detach());
  group.broadcast(data);
}

}  // namespace svanet::engine
