#pragma once
/// @file
/// Train/validation/test splits, deterministic from a seed and written to
/// `splits.json` so that a run can be repeated exactly.
///
/// The test split is the dataset's held-out folder: `test/`, or `val/` when
/// there is no `test/` (the official code reports on that folder), or, with
/// neither, a random fifth of the images (the paper's 4:1 rule). Validation
/// — what checkpoints are selected on — is never the test split: the `val/`
/// folder when both `val/` and `test/` exist, otherwise a random fifth of the
/// training images. With k-fold, the k-th fold of the non-test images is the
/// validation split.

#include "svanet/data/dataset.h"

#include <cstdint>
#include <string>
#include <vector>

namespace svanet::data {

struct SplitOptions {
  uint64_t seed = 0;
  /// Fraction of the training images held out for validation.
  double val_fraction = 0.2;
  /// Fraction of all images used as test when the dataset has no held-out folder.
  double test_fraction = 0.2;
  /// k-fold cross-validation over the non-test images: folds > 1 and 0 <= fold < folds.
  int64_t folds = 0;
  int64_t fold = 0;
};

struct Splits {
  SplitOptions options;
  /// How the splits were made, in words.
  std::string rule;
  std::vector<Sample> train, val, test;
};

/// Splits samples (only those with masks) as described above.
Splits make_splits(const DatasetIndex& index, const SplitOptions& options = {});

/// Writes splits.json atomically (stems and files per split, the options and rule).
void write_splits(const std::string& path, const Splits& splits);

/// Reads splits.json back against an index: every stem must still exist.
Splits read_splits(const std::string& path, const DatasetIndex& index);

}  // namespace svanet::data
