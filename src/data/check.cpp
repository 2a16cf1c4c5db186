#include "svanet/data/check.h"

#include "svanet/common/error.h"

#include <torch/torch.h>
#include "svanet/utils/parallel.h"

#include <algorithm>

namespace svanet::data {

int64_t CheckReport::errors() const {
  return std::count_if(problems.begin(), problems.end(),
                       [](const Problem& p) { return p.severity == Problem::Severity::kError; });
}

int64_t CheckReport::warnings() const {
  return static_cast<int64_t>(problems.size()) - errors();
}

namespace {

/// svanet::Error messages start with the file name; keep just the problem.
std::string without_prefix(const std::string& message, const std::string& file) {
  const std::string prefix = file + ": ";
  return message.rfind(prefix, 0) == 0 ? message.substr(prefix.size()) : message;
}

struct SampleResult {
  std::vector<Problem> problems;
  std::string mask_kind;
};

SampleResult check_sample(const DatasetDefinition& definition, const Sample& sample) {
  SampleResult result;
  auto error = [&](const std::string& file, const std::string& message) {
    result.problems.push_back({Problem::Severity::kError, file, message});
  };
  if (sample.mask.empty()) {
    error(sample.image, "no mask with the stem '" + sample.stem + "'");
  }
  try {
    if (sample.mask.empty()) {
      read_image(sample.image);
    } else {
      const auto loaded = load_sample(definition, sample);
      result.mask_kind = to_string(loaded.mask_kind);
    }
  } catch (const Error& e) {
    const std::string message = e.what();
    // Attribute the problem to the file the message names.
    const std::string& file = !sample.mask.empty() && message.rfind(sample.mask + ":", 0) == 0
                                  ? sample.mask
                                  : sample.image;
    error(file, without_prefix(message, file));
  } catch (const std::exception& e) {
    error(sample.image, std::string("cannot be read: ") + e.what());
  }
  return result;
}

}  // namespace

CheckReport check_dataset(const DatasetIndex& index) {
  CheckReport report;
  std::vector<SampleResult> results(index.samples.size());
  utils::parallel_for(static_cast<int64_t>(index.samples.size()), [&](int64_t i) {
    results[static_cast<size_t>(i)] =
        check_sample(index.definition, index.samples[static_cast<size_t>(i)]);
  });
  for (size_t i = 0; i < results.size(); ++i) {
    const auto& sample = index.samples[i];
    ++report.images_per_split[sample.split];
    if (!results[i].mask_kind.empty()) ++report.mask_kinds[results[i].mask_kind];
    if (results[i].problems.empty()) {
      report.good.push_back(sample);
    } else {
      report.bad.push_back(sample);
      report.problems.insert(report.problems.end(), results[i].problems.begin(),
                             results[i].problems.end());
    }
  }
  for (const auto& orphan : index.orphan_masks) {
    report.problems.push_back(
        {Problem::Severity::kError, orphan, "mask without an image of the same stem"});
  }
  for (const auto& files : index.duplicate_stems) {
    for (const auto& file : files) {
      report.problems.push_back({Problem::Severity::kError, file,
                                 "duplicate stem: " + std::to_string(files.size()) +
                                     " images share it, so masks are ambiguous"});
    }
  }
  for (const auto& file : index.ignored_files) {
    report.problems.push_back({Problem::Severity::kWarning, file, "not an image; ignored"});
  }
  if (index.samples.empty()) {
    report.problems.push_back({Problem::Severity::kError, index.root, "no images"});
  }
  for (const auto& [split, folder] : index.split_folders) {
    if (report.images_per_split.count(split) == 0) {
      report.problems.push_back(
          {Problem::Severity::kError, folder, "split '" + split + "' has no images"});
    }
  }
  const bool has_train = report.images_per_split.count("train") > 0 ||
                         std::any_of(report.images_per_split.begin(), report.images_per_split.end(),
                                     [](const auto& s) { return s.first.rfind("split", 0) == 0; });
  if (!index.samples.empty() && !has_train) {
    report.problems.push_back(
        {Problem::Severity::kError, index.root, "no training images (train/ is missing or empty)"});
  }
  return report;
}

}  // namespace svanet::data
