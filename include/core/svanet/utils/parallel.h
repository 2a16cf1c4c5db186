#pragma once
/// @file
/// Running independent tasks on a few threads (file decoding, generation).
/// Plain std::thread: LibTorch's at::parallel_for only runs in parallel in
/// code compiled with OpenMP, and image work should not depend on that.

#include <cstdint>
#include <functional>

namespace svanet::utils {

/// Calls `fn(i)` for every i in [0, n) on up to `threads` threads (0: as
/// many as LibTorch's intra-op setting, at least the hardware's when that is
/// 1 and n is large). Tasks are handed out one at a time. The first
/// exception thrown by a task is rethrown after all threads stop.
void parallel_for(int64_t n, const std::function<void(int64_t)>& fn, int threads = 0);

/// The thread count parallel_for uses for `threads` = 0.
int default_threads();

}  // namespace svanet::utils
