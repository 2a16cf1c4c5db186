#include "svanet/data/loader.h"

#include "data/augment_impl.h"
#include "data/cv_io.h"
#include "svanet/common/error.h"
#include "svanet/utils/parallel.h"
#include "utils/rng.h"

#include <torch/cuda.h>
#include <torch/torch.h>

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <exception>
#include <map>
#include <mutex>
#include <thread>

namespace svanet::data {

namespace {

/// The seed of one sample's random draws in one epoch.
uint64_t sample_seed(uint64_t seed, int64_t epoch, int64_t sample) {
  utils::Rng mix(seed ^ (static_cast<uint64_t>(epoch) * 0xD1B54A32D192ED03ULL) ^
                 (static_cast<uint64_t>(sample) * 0x9E3779B97F4A7C15ULL));
  return mix.next();
}

struct Prepared {
  cv::Mat image;  // CV_32FC3, normalised
  cv::Mat mask;   // CV_8UC1
  std::array<int64_t, 2> native{0, 0};
  torch::Tensor native_mask;
};

}  // namespace

struct DataLoader::State {
  int64_t epoch = -1;
  /// Sample indices of this epoch (sharded), grouped into batches.
  std::vector<std::vector<int64_t>> batches;
  std::mutex mutex;
  std::condition_variable ready_cv, space_cv;
  std::map<int64_t, Batch> ready;
  int64_t next_to_hand_out = 0;  // batch id a worker takes next
  int64_t next_to_return = 0;    // batch id next() returns next
  std::exception_ptr error;
  bool stop = false;
  std::vector<std::thread> workers;

  void join() {
    {
      std::lock_guard<std::mutex> lock(mutex);
      stop = true;
    }
    space_cv.notify_all();
    ready_cv.notify_all();
    for (auto& w : workers) w.join();
    workers.clear();
  }
};

DataLoader::DataLoader(DatasetDefinition definition, std::vector<Sample> samples,
                       Transform transform, LoaderOptions options)
    : definition_(std::move(definition)),
      samples_(std::move(samples)),
      transform_(std::move(transform)),
      options_(options),
      state_(std::make_unique<State>()) {
  SVANET_CHECK(options_.batch_size >= 1, "batch size must be >= 1, got ", options_.batch_size);
  SVANET_CHECK(
      options_.world_size >= 1 && options_.rank >= 0 && options_.rank < options_.world_size,
      "invalid rank ", options_.rank, " of ", options_.world_size);
  SVANET_CHECK(!samples_.empty(), "no samples to load");
  for (const auto& s : samples_) SVANET_CHECK(!s.mask.empty(), s.image, ": no mask for this image");
}

DataLoader::~DataLoader() {
  state_->join();
}

namespace {

/// Samples of one rank before dropping.
int64_t rank_share(int64_t n, const LoaderOptions& o) {
  // Even shards (the distributed sampler's rule): the order wraps around to
  // fill the last rank. Otherwise rank r takes positions r, r + W, ...
  if (o.even_shards) return (n + o.world_size - 1) / o.world_size;
  return n / o.world_size + (o.rank < n % o.world_size ? 1 : 0);
}

}  // namespace

int64_t DataLoader::samples_per_epoch() const {
  const auto n = static_cast<int64_t>(samples_.size());
  const int64_t per_rank = rank_share(n, options_);
  const int64_t remainder = per_rank % options_.batch_size;
  if (options_.drop_last || (options_.drop_single && remainder == 1 && per_rank > 1)) {
    return per_rank - remainder;
  }
  return per_rank;
}

int64_t DataLoader::batches_per_epoch() const {
  return (samples_per_epoch() + options_.batch_size - 1) / options_.batch_size;
}

void DataLoader::start_epoch(int64_t epoch, int64_t skip_batches) {
  state_->join();
  auto& st = *state_;
  st.stop = false;
  st.error = nullptr;
  st.ready.clear();
  st.next_to_hand_out = 0;
  st.next_to_return = 0;
  st.epoch = epoch;
  // The epoch's order: shuffled with a generator of (seed, epoch), identical on every rank.
  const auto n = static_cast<int64_t>(samples_.size());
  std::vector<int64_t> order(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) order[static_cast<size_t>(i)] = i;
  if (options_.shuffle) {
    utils::Rng rng(sample_seed(options_.seed, epoch, -1));
    rng.shuffle(order);
  }
  const int64_t per_rank = rank_share(n, options_);
  std::vector<int64_t> mine;
  for (int64_t k = 0; k < per_rank; ++k) {
    mine.push_back(order[static_cast<size_t>((k * options_.world_size + options_.rank) % n)]);
  }
  mine.resize(static_cast<size_t>(samples_per_epoch()));
  st.batches.clear();
  SVANET_CHECK(skip_batches >= 0, "cannot skip ", skip_batches, " batches");
  for (auto i = static_cast<size_t>(skip_batches * options_.batch_size); i < mine.size();
       i += static_cast<size_t>(options_.batch_size)) {
    st.batches.emplace_back(
        mine.begin() + static_cast<std::ptrdiff_t>(i),
        mine.begin() + static_cast<std::ptrdiff_t>(
                           std::min(mine.size(), i + static_cast<size_t>(options_.batch_size))));
  }
  if (options_.prefetch == 0) return;  // batches are built in next()
  const int workers =
      std::max(1, options_.workers > 0 ? options_.workers : utils::default_threads());
  for (int w = 0; w < workers; ++w) {
    st.workers.emplace_back([this, &st] {
      while (true) {
        int64_t id = 0;
        {
          std::unique_lock<std::mutex> lock(st.mutex);
          st.space_cv.wait(lock, [&] {
            return st.stop || st.next_to_hand_out >= static_cast<int64_t>(st.batches.size()) ||
                   st.next_to_hand_out < st.next_to_return + options_.prefetch;
          });
          if (st.stop || st.next_to_hand_out >= static_cast<int64_t>(st.batches.size())) return;
          id = st.next_to_hand_out++;
        }
        try {
          Batch batch = build_batch(st.batches[static_cast<size_t>(id)], st.epoch, 1);
          {
            std::lock_guard<std::mutex> lock(st.mutex);
            st.ready.emplace(id, std::move(batch));
          }
          st.ready_cv.notify_all();
        } catch (...) {
          {
            std::lock_guard<std::mutex> lock(st.mutex);
            if (!st.error) st.error = std::current_exception();
            st.stop = true;
          }
          st.ready_cv.notify_all();
          st.space_cv.notify_all();
          return;
        }
      }
    });
  }
}

Batch DataLoader::build_batch(const std::vector<int64_t>& indices, int64_t epoch,
                              int threads) const {
  std::vector<Prepared> prepared(indices.size());
  utils::parallel_for(
      static_cast<int64_t>(indices.size()),
      [&](int64_t j) {
        const auto index = indices[static_cast<size_t>(j)];
        const Sample& sample = samples_[static_cast<size_t>(index)];
        auto& p = prepared[static_cast<size_t>(j)];
        cv::Mat image = read_image_mat(sample.image);
        const torch::Tensor native =
            load_mask_for(definition_, sample, image.rows, image.cols).indices;
        cv::Mat mask = tensor_to_cv_u8(native).clone();
        p.native = {image.rows, image.cols};
        if (options_.keep_native_masks) p.native_mask = native;
        utils::Rng rng(sample_seed(options_.seed, epoch, index));
        apply_transform(transform_, image, mask, rng);
        p.image = image;
        p.mask = mask;
      },
      threads);
  Batch batch;
  // Collate: every sample of a batch must have the same size after the transform.
  const int h = prepared[0].image.rows, w = prepared[0].image.cols;
  for (size_t j = 1; j < prepared.size(); ++j) {
    SVANET_CHECK(prepared[j].image.rows == h && prepared[j].image.cols == w,
                 samples_[static_cast<size_t>(indices[j])].image, ": is ", prepared[j].image.cols,
                 "x", prepared[j].image.rows, " after its transform, but the batch is ", w, "x", h,
                 " (use a resizing transform or batch size 1)");
  }
  const auto b = static_cast<int64_t>(prepared.size());
  const bool pin = options_.pin_memory && torch::cuda::is_available();
  auto options = torch::TensorOptions().pinned_memory(pin);
  batch.images = torch::empty({b, 3, h, w}, options.dtype(torch::kFloat));
  batch.masks = torch::empty({b, h, w}, options.dtype(torch::kLong));
  for (int64_t j = 0; j < b; ++j) {
    const auto& p = prepared[static_cast<size_t>(j)];
    batch.stems.push_back(samples_[static_cast<size_t>(indices[static_cast<size_t>(j)])].stem);
    cv::Mat image = p.image.isContinuous() ? p.image : p.image.clone();
    // (H, W, 3) -> (3, H, W)
    batch.images[j].copy_(
        torch::from_blob(image.data, {h, w, 3}, torch::kFloat).permute({2, 0, 1}));
    cv::Mat mask = p.mask.isContinuous() ? p.mask : p.mask.clone();
    batch.masks[j].copy_(torch::from_blob(mask.data, {h, w}, torch::kByte));
    batch.native_sizes.push_back(p.native);
    if (p.native_mask.defined()) batch.native_masks.push_back(p.native_mask);
  }
  return batch;
}

std::optional<Batch> DataLoader::next() {
  auto& st = *state_;
  SVANET_CHECK(st.epoch >= 0, "DataLoader::next before start_epoch");
  if (st.next_to_return >= static_cast<int64_t>(st.batches.size())) return std::nullopt;
  if (options_.prefetch == 0) {
    // Synchronous: the samples of the batch are prepared in parallel now,
    // while the caller waits (on a CPU-only machine this keeps decoding from
    // competing with the model's threads).
    const int threads = options_.workers > 0 ? options_.workers : utils::default_threads();
    return build_batch(st.batches[static_cast<size_t>(st.next_to_return++)], st.epoch, threads);
  }
  std::unique_lock<std::mutex> lock(st.mutex);
  st.ready_cv.wait(lock, [&] { return st.error || st.ready.count(st.next_to_return) > 0; });
  if (st.error) {
    auto error = st.error;
    lock.unlock();
    st.join();
    std::rethrow_exception(error);
  }
  auto node = st.ready.extract(st.next_to_return);
  ++st.next_to_return;
  lock.unlock();
  st.space_cv.notify_all();
  return std::move(node.mapped());
}

}  // namespace svanet::data
