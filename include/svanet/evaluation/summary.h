#pragma once
/// @file
/// summary.json, an evaluation's every reduction, written and read by one
/// pair of functions: what `svanet evaluate` writes and `svanet compare`,
/// `svanet study`, svanet-tiny-objects and the trainer's reuse of an
/// evaluation read back as a metrics::Summary, instead of each parsing keys
/// of its own. docs/summary.schema.json is its JSON Schema.
///
/// Version 2 (this svanet): `format` "svanet.evaluation" and `version` 2;
/// every ratio a fraction; `metrics` describes every registered metric
/// (label, scope, unit, direction, digits, description, reference) and
/// `headline` holds their values; `options.match` names the matching rule.
/// Version 1 (svanet 0.1, no `version`) is read too: its reference metrics
/// (x 100 there) become fractions, its objects keep the rule they were
/// counted with ("overlap", or "union-iou:T" for svanet 0.1's IoU
/// threshold), and metrics it lacks are NaN.

#include "svanet/metrics/reduce.h"

#include <cstdint>
#include <string>

namespace svanet::evaluation {

/// The summary.json version this svanet writes.
inline constexpr int64_t kSummaryVersion = 2;

/// The summary as summary.json's text.
std::string summary_to_json(const metrics::Summary& summary);

/// A summary from summary.json's text (`path` names it in errors: a file
/// that is not JSON, a missing or malformed entry, a newer version).
metrics::Summary summary_from_json(const std::string& text, const std::string& path);

/// The summary.json at `path`.
metrics::Summary read_summary(const std::string& path);

}  // namespace svanet::evaluation
