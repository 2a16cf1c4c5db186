#include "svanet/metrics/evaluator.h"

#include "svanet/common/error.h"

#include <nlohmann/json.hpp>

#include <algorithm>

namespace svanet::metrics {

namespace {

using nlohmann::json;

json counts_to_json(const Counts& c) {
  return json::array({c.tp, c.fp, c.fn, c.tn});
}

Counts counts_from_json(const json& j) {
  return {j.at(0).get<int64_t>(), j.at(1).get<int64_t>(), j.at(2).get<int64_t>(),
          j.at(3).get<int64_t>()};
}

json record_to_json(const CaseRecord& r) {
  json classes = json::array();
  for (const auto& c : r.classes) {
    classes.push_back({counts_to_json(c.counts), c.hd95, c.assd, c.nsd});
  }
  json reference = json::array();
  for (const auto& c : r.reference_counts) reference.push_back(counts_to_json(c));
  json objects = json::array();
  for (const auto& o : r.objects) {
    objects.push_back({o.class_index, o.ground_truth, o.area_px, o.area_pct, o.x, o.y, o.width,
                       o.height, o.matched, o.dice, o.iou, o.partners});
  }
  return {{"id", r.id},         {"h", r.height},
          {"w", r.width},       {"ratio", r.object_ratio},
          {"classes", classes}, {"reference", reference},
          {"em", r.e_measure},  {"mae", r.mae},
          {"objects", objects}};
}

CaseRecord record_from_json(const json& j) {
  CaseRecord r;
  r.id = j.at("id").get<std::string>();
  r.height = j.at("h").get<int64_t>();
  r.width = j.at("w").get<int64_t>();
  r.object_ratio = j.at("ratio").get<double>();
  for (const auto& c : j.at("classes")) {
    r.classes.push_back({counts_from_json(c.at(0)), c.at(1).get<double>(), c.at(2).get<double>(),
                         c.at(3).get<double>()});
  }
  for (const auto& c : j.at("reference")) r.reference_counts.push_back(counts_from_json(c));
  r.e_measure = j.at("em").get<double>();
  r.mae = j.at("mae").get<double>();
  for (const auto& o : j.at("objects")) {
    ObjectRecord x;
    x.class_index = o.at(0).get<int64_t>();
    x.ground_truth = o.at(1).get<bool>();
    x.area_px = o.at(2).get<int64_t>();
    x.area_pct = o.at(3).get<double>();
    x.x = o.at(4).get<int64_t>();
    x.y = o.at(5).get<int64_t>();
    x.width = o.at(6).get<int64_t>();
    x.height = o.at(7).get<int64_t>();
    x.matched = o.at(8).get<bool>();
    x.dice = o.at(9).get<double>();
    x.iou = o.at(10).get<double>();
    x.partners = o.at(11).get<int64_t>();
    r.objects.push_back(x);
  }
  return r;
}

}  // namespace

Evaluator::Evaluator(MetricOptions options) : options_(std::move(options)) {
  options_.validate();
}

void Evaluator::add(const std::string& id, const torch::Tensor& pred, const torch::Tensor& gt,
                    const torch::Tensor& reference_pred, const torch::Tensor& reference_gt) {
  add_record(analyze_case(id, pred, gt, options_, reference_pred, reference_gt));
}

void Evaluator::add_record(CaseRecord record) {
  SVANET_CHECK(static_cast<int64_t>(record.classes.size()) == options_.num_classes &&
                   record.reference_counts.size() == record.classes.size(),
               record.id, ": the case record has ", record.classes.size(),
               " classes, the evaluator ", options_.num_classes);
  std::lock_guard<std::mutex> lock(mutex_);
  records_.push_back(std::move(record));
}

void Evaluator::merge(const Evaluator& other) {
  SVANET_CHECK(other.options_.num_classes == options_.num_classes, "cannot merge evaluators of ",
               other.options_.num_classes, " and ", options_.num_classes, " classes");
  for (auto& r : other.records()) add_record(r);
}

std::string Evaluator::serialize() const {
  json all = json::array();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& r : records_) all.push_back(record_to_json(r));
  }
  const auto bytes = json::to_cbor(all);
  return {bytes.begin(), bytes.end()};
}

void Evaluator::merge_serialized(const std::string& bytes) {
  json all;
  try {
    all = json::from_cbor(bytes.begin(), bytes.end());
    for (const auto& j : all) add_record(record_from_json(j));
  } catch (const json::exception& e) {
    SVANET_FAIL("corrupt evaluation records: ", e.what());
  }
}

std::vector<CaseRecord> Evaluator::records() const {
  std::vector<CaseRecord> out;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    out = records_;
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const CaseRecord& a, const CaseRecord& b) { return a.id < b.id; });
  out.erase(std::unique(out.begin(), out.end(),
                        [](const CaseRecord& a, const CaseRecord& b) { return a.id == b.id; }),
            out.end());
  return out;
}

Summary Evaluator::aggregate() const {
  return summarize(records(), options_);
}

void Evaluator::reset() {
  std::lock_guard<std::mutex> lock(mutex_);
  records_.clear();
}

int64_t Evaluator::size() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return static_cast<int64_t>(records_.size());
}

}  // namespace svanet::metrics
