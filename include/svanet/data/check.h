#pragma once
/// @file
/// Validating a dataset before training: every file is opened and decoded,
/// every mask mapped onto the dataset's classes and matched to its image.

#include "svanet/data/dataset.h"

#include <map>
#include <string>
#include <vector>

namespace svanet::data {

/// One thing wrong with a dataset.
struct Problem {
  enum class Severity { kError, kWarning };
  Severity severity = Severity::kError;
  /// The file concerned (or the dataset folder).
  std::string file;
  std::string message;
};

/// What check_dataset found.
struct CheckReport {
  std::vector<Problem> problems;
  /// Images per split folder.
  std::map<std::string, int64_t> images_per_split;
  /// How many masks used each encoding (class indices, binary 0/255, ...).
  std::map<std::string, int64_t> mask_kinds;
  /// Samples whose image and mask both load (the usable ones).
  std::vector<Sample> good;
  /// Samples with at least one error.
  std::vector<Sample> bad;

  int64_t errors() const;
  int64_t warnings() const;
};

/// Opens every image and mask of the index (in parallel): missing and orphan
/// masks, unreadable or truncated files, mask values that fit no class,
/// image/mask size mismatches, empty splits, duplicate stems.
CheckReport check_dataset(const DatasetIndex& index);

}  // namespace svanet::data
