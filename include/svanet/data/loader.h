#pragma once
/// @file
/// Batches for training and evaluation: samples are decoded and augmented on
/// worker threads, a few batches ahead of the consumer, and collated into
/// tensors (pinned when a GPU is there to copy them to).
///
/// Every random draw of a sample comes from a generator seeded by (seed,
/// epoch, sample), so a run is reproducible whatever the number of workers,
/// and resuming at an epoch replays exactly the batches it would have had.

#include "svanet/data/augment.h"
#include "svanet/data/dataset.h"

#include <torch/types.h>

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace svanet::data {

/// A collated batch.
struct Batch {
  /// (B, 3, H, W) float32, normalised.
  torch::Tensor images;
  /// (B, H, W) int64 class indices, 255 = ignore.
  torch::Tensor masks;
  std::vector<std::string> stems;
  /// Each sample's size before any resizing (height, width).
  std::vector<std::array<int64_t, 2>> native_sizes;
  /// Each sample's mask at its native size ((H, W) uint8), when the loader
  /// was asked to keep them (evaluation at native resolution).
  std::vector<torch::Tensor> native_masks;
};

/// Options of DataLoader.
struct LoaderOptions {
  int64_t batch_size = 4;
  /// Shuffle the order every epoch (training).
  bool shuffle = true;
  /// Drop a last incomplete batch. The official code drops it only when it
  /// would hold a single sample; `drop_single` does that.
  bool drop_last = false;
  bool drop_single = true;
  /// Decoding threads; 0 = as many as LibTorch's intra-op threads.
  int workers = 0;
  /// Batches prepared ahead of the consumer on worker threads; 0 prepares
  /// each batch when it is asked for, with `workers` threads, while the
  /// caller waits (best when the model runs on the same CPU cores).
  int prefetch = 2;
  uint64_t seed = 0;
  /// Keep each sample's native-size mask in the batch (evaluation).
  bool keep_native_masks = false;
  /// Allocate batches in pinned memory when CUDA is available.
  bool pin_memory = true;
  /// Shard for multi-process training: this process takes every
  /// `world_size`-th sample starting at `rank` (after shuffling).
  int64_t rank = 0;
  int64_t world_size = 1;
  /// Every rank takes the same number of samples, wrapping around the order
  /// (training); false gives each sample to exactly one rank (evaluation).
  bool even_shards = true;
};

/// Loads samples of one split in batches.
class DataLoader {
 public:
  DataLoader(DatasetDefinition definition, std::vector<Sample> samples, Transform transform,
             LoaderOptions options);
  ~DataLoader();
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  /// Starts (or restarts) an epoch: draws its order and starts the workers.
  /// The first `skip_batches` batches are left out (resuming inside an
  /// epoch); the rest are exactly those of the whole epoch.
  void start_epoch(int64_t epoch, int64_t skip_batches = 0);
  /// The next batch of the epoch, or nothing when the epoch is over. Errors
  /// of a worker (an unreadable file) are rethrown here, naming the file.
  std::optional<Batch> next();

  /// Batches per epoch for this process.
  int64_t batches_per_epoch() const;
  /// Samples per epoch for this process (after sharding and dropping).
  int64_t samples_per_epoch() const;
  const std::vector<Sample>& samples() const { return samples_; }

 private:
  /// Decodes, transforms and collates the samples `indices` of `epoch` on
  /// up to `threads` threads.
  Batch build_batch(const std::vector<int64_t>& indices, int64_t epoch, int threads) const;

  struct State;
  DatasetDefinition definition_;
  std::vector<Sample> samples_;
  Transform transform_;
  LoaderOptions options_;
  std::unique_ptr<State> state_;
};

}  // namespace svanet::data
