#pragma once
// Table cells shared by `svanet compare` and `svanet study` (private to the
// library).

#include "svanet/metrics/reduce.h"

#include <cstdio>
#include <string>

namespace svanet::evaluation::detail {

/// "mean<separator>std" with `digits` decimals; the mean alone for one
/// value, "n/a" for none.
inline std::string stat_cell(const metrics::Stat& s, int digits, const char* separator) {
  if (s.n == 0) return "n/a";
  char buffer[96];
  if (s.n > 1) {
    std::snprintf(buffer, sizeof(buffer), "%.*f%s%.*f", digits, s.mean, separator, digits, s.std);
  } else {
    std::snprintf(buffer, sizeof(buffer), "%.*f", digits, s.mean);
  }
  return buffer;
}

}  // namespace svanet::evaluation::detail
