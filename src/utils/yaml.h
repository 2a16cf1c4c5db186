#pragma once
// yaml-cpp helpers that turn every problem into an svanet::Error naming the
// file, the line and the key (private to the library).

#include "svanet/common/error.h"

#include <yaml-cpp/yaml.h>

#include <string>
#include <vector>

namespace svanet::utils {

/// "file:line:column" of a node (yaml-cpp marks are 0-based).
std::string where(const YAML::Node& node, const std::string& source);

/// Parses YAML text, rethrowing yaml-cpp's errors with the source and line.
YAML::Node load_yaml(const std::string& text, const std::string& source);

/// Fails on any key of the mapping `node` not in `valid`, listing the valid ones.
void check_keys(const YAML::Node& node, const std::vector<std::string>& valid,
                const std::string& source, const std::string& section);

/// The scalar at node[key] as T, with a clear error when it is not one.
template <typename T>
T scalar(const YAML::Node& node, const std::string& key, const std::string& source,
         const std::string& section) {
  const YAML::Node value = node[key];
  SVANET_CHECK(value.IsDefined() && value.IsScalar(),
               where(value.IsDefined() ? value : node, source), ": '", section, ".", key,
               "' must be a single value");
  try {
    return value.as<T>();
  } catch (const YAML::Exception&) {
    SVANET_FAIL(where(value, source), ": '", section, ".", key, "' has an invalid value '",
                value.Scalar(), "'");
  }
}

/// A scalar as its text, or a sequence of scalars as "a,b,c".
std::string scalar_or_list_text(const YAML::Node& node, const std::string& source,
                                const std::string& name);

}  // namespace svanet::utils
