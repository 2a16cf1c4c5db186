#include "svanet/evaluation/summary.h"

#include "svanet/common/error.h"
#include "svanet/utils/atomic_file.h"
#include "svanet/utils/text.h"
#include "utils/json_number.h"

#include <nlohmann/json.hpp>

namespace svanet::evaluation {

namespace {

using json = nlohmann::json;

std::map<std::string, double> numbers(const json& object) {
  std::map<std::string, double> out;
  for (const auto& [key, value] : object.items()) {
    if (value.is_number() || value.is_null()) out[key] = utils::json_number(value);
  }
  return out;
}

}  // namespace

SummaryRecord read_summary(const std::string& path) {
  SummaryRecord s;
  s.path = path;
  json j;
  try {
    j = json::parse(utils::read_file(path));
  } catch (const json::exception& e) {
    SVANET_FAIL(path, ": not JSON (", e.what(), ")");
  }
  // The entry being read, for the message when it is missing or malformed.
  std::string entry = "headline";
  try {
    s.headline = numbers(j.at("headline"));
    entry = "cases";
    s.cases = j.at("cases").get<int64_t>();
    entry = "classes";
    s.classes = j.at("classes").get<std::vector<std::string>>();
    entry = "size_bins";
    for (const auto& b : j.at("size_bins")) {
      SizeBinRecord r;
      r.label = b.at("label").get<std::string>();
      r.lower_pct = utils::json_number(b.at("lower_pct"));
      r.upper_pct = utils::json_number(b.at("upper_pct"));
      r.cumulative = b.at("cumulative").get<bool>();
      r.complete = b.at("complete").get<bool>();
      r.images = b.at("images").get<int64_t>();
      r.reference = numbers(b.at("reference"));
      for (const auto& c : b.at("per_class")) {
        if (c.at("class").get<int64_t>() != 0) continue;
        for (const auto& [key, value] : c.items()) {
          if (value.is_object() && value.contains("mean")) {
            r.foreground[key] = utils::json_number(value.at("mean"));
          }
        }
      }
      s.size_bins.push_back(std::move(r));
    }
    if (j.contains("options") && j["options"].contains("object_bins_unit")) {
      entry = "options.object_bins_unit";
      s.object_bins_unit = j["options"]["object_bins_unit"].get<std::string>();
    }
    if (j.contains("options") && j["options"].contains("match")) {
      entry = "options.match";
      s.match = j["options"]["match"].get<std::string>();
    } else if (j.contains("options") && j["options"].contains("match_iou_threshold")) {
      entry = "options.match_iou_threshold";
      const double t = utils::json_number(j["options"]["match_iou_threshold"]);
      s.match = t > 0 ? "union-iou:" + utils::format_number(t) : "overlap";
    }
    entry = "objects";
    for (const auto& b : j.at("objects")) {
      ObjectBinRecord r;
      r.class_index = b.at("class").get<int64_t>();
      r.class_name = b.at("class_name").get<std::string>();
      r.bin = b.at("bin").get<std::string>();
      r.values = numbers(b);
      for (const char* k : {"class", "lower", "upper"}) r.values.erase(k);
      s.objects.push_back(std::move(r));
    }
  } catch (const json::exception& e) {
    SVANET_FAIL(path, ": not an svanet evaluation summary ('", entry, "': ", e.what(), ")");
  }
  return s;
}

std::map<std::string, double> read_headline(const std::string& path) {
  return read_summary(path).headline;
}

}  // namespace svanet::evaluation
