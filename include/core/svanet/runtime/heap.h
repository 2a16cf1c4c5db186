#pragma once
/// @file
/// The C library's heap, set up for tensor work. glibc's malloc serves a
/// block above its mmap threshold (128 KiB, rising to at most 32 MiB) from
/// a mapping of its own and unmaps it when the block is freed, so every
/// step of a training or inference loop maps, faults in and zeroes its
/// large activations again. A `svanet_r50` training-step benchmark (256²,
/// batch 4, 2 threads) spent 31-33 % of its CPU time in the kernel that way.
/// keep_freed_memory() has malloc serve every block from its heap and keep
/// what is freed for the next step: 21-26 % in the kernel, the step 1.15-1.8x
/// faster, peak memory 1-2 % higher (docs/training.md, "The heap"). The
/// process's memory no longer shrinks after a peak.
///
///     int main() {
///       svanet::runtime::keep_freed_memory();  // first, before the tensors
///       ...
///     }
///
/// svanet's programs call it at start. `SVANET_MALLOC=system` in the
/// environment keeps the C library's defaults, as do malloc settings of
/// glibc's own in the environment (GLIBC_TUNABLES glibc.malloc.*,
/// MALLOC_MMAP_MAX_, MALLOC_MMAP_THRESHOLD_, MALLOC_TRIM_THRESHOLD_,
/// MALLOC_TOP_PAD_), which are left to take effect.

#include <string>

namespace svanet::runtime {

/// Applies the policy above where it can (glibc, no setting of the user's)
/// and returns a line saying what the heap does, for the log.
std::string keep_freed_memory();

}  // namespace svanet::runtime
