#include "utils/yaml.h"

#include "svanet/utils/text.h"

#include <algorithm>

namespace svanet::utils {

std::string where(const YAML::Node& node, const std::string& source) {
  const YAML::Mark mark = node.Mark();
  if (mark.is_null()) {
    return source;
  }
  return source + ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
}

YAML::Node load_yaml(const std::string& text, const std::string& source) {
  try {
    return YAML::Load(text);
  } catch (const YAML::Exception& e) {
    SVANET_FAIL(source, ":", e.mark.line + 1, ":", e.mark.column + 1, ": invalid YAML: ", e.msg);
  }
}

void check_keys(const YAML::Node& node, const std::vector<std::string>& valid,
                const std::string& source, const std::string& section) {
  for (const auto& item : node) {
    const auto key = item.first.as<std::string>();
    SVANET_CHECK(std::find(valid.begin(), valid.end(), key) != valid.end(),
                 where(item.first, source), ": unknown key '", section, ".", key,
                 "'; valid keys: ", utils::join(valid, ", "));
  }
}

std::string scalar_or_list_text(const YAML::Node& node, const std::string& source,
                                const std::string& name) {
  if (node.IsScalar()) {
    return node.Scalar();
  }
  SVANET_CHECK(node.IsSequence(), where(node, source), ": '", name,
               "' must be a value or a list of values");
  std::vector<std::string> parts;
  for (const auto& item : node) {
    SVANET_CHECK(item.IsScalar(), where(item, source), ": '", name,
                 "' must be a list of plain values");
    parts.push_back(item.Scalar());
  }
  return utils::join(parts, ",");
}

}  // namespace svanet::utils
