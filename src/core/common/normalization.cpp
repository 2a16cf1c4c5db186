#include "svanet/common/normalization.h"

#include "svanet/common/error.h"

namespace svanet {

void Normalization::validate() const {
  SVANET_CHECK(mode == "imagenet" || mode == "reference" || mode == "custom",
               "normalisation mode must be imagenet, reference or custom, got '", mode, "'");
  SVANET_CHECK(mean.size() == 3 && std.size() == 3,
               "normalisation needs 3 means and 3 standard deviations, got ", mean.size(), " and ",
               std.size());
  for (double s : std) SVANET_CHECK(s > 0.0, "normalisation standard deviations must be positive");
}

}  // namespace svanet
