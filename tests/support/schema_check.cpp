#include "support/schema_check.h"

#include <algorithm>

namespace svanet::test {

namespace {

using nlohmann::json;

std::string type_of(const json& v) {
  switch (v.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::boolean:
      return "boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
      return "integer";
    case json::value_t::number_float:
      return "number";
    case json::value_t::string:
      return "string";
    case json::value_t::array:
      return "array";
    default:
      return "object";
  }
}

bool has_type(const json& v, const std::string& type) {
  const std::string actual = type_of(v);
  return actual == type || (type == "number" && actual == "integer");
}

class Checker {
 public:
  explicit Checker(const json& root) : root_(root) {}

  void check(const json& schema, const json& v, const std::string& at) {
    if (schema.contains("$ref")) {
      const std::string ref = schema["$ref"];
      const std::string prefix = "#/$defs/";
      if (ref.rfind(prefix, 0) != 0 || !root_.at("$defs").contains(ref.substr(prefix.size()))) {
        errors_.push_back(at + ": unresolved $ref " + ref);
        return;
      }
      check(root_["$defs"][ref.substr(prefix.size())], v, at);
      return;
    }
    if (schema.contains("type")) {
      std::vector<std::string> types;
      if (schema["type"].is_array()) {
        for (const auto& t : schema["type"]) types.push_back(t);
      } else {
        types.push_back(schema["type"]);
      }
      if (std::none_of(types.begin(), types.end(), [&](const auto& t) { return has_type(v, t); })) {
        errors_.push_back(at + ": expected " + schema["type"].dump() + ", got " + type_of(v));
        return;
      }
    }
    if (schema.contains("enum")) {
      const auto& e = schema["enum"];
      if (std::find(e.begin(), e.end(), v) == e.end()) {
        errors_.push_back(at + ": " + v.dump() + " is not one of " + e.dump());
      }
    }
    if (schema.contains("const") && schema["const"] != v) {
      errors_.push_back(at + ": expected " + schema["const"].dump() + ", got " + v.dump());
    }
    if (v.is_number()) {
      if (schema.contains("minimum") && v.get<double>() < schema["minimum"].get<double>()) {
        errors_.push_back(at + ": " + v.dump() + " is below " + schema["minimum"].dump());
      }
      if (schema.contains("maximum") && v.get<double>() > schema["maximum"].get<double>()) {
        errors_.push_back(at + ": " + v.dump() + " is above " + schema["maximum"].dump());
      }
    }
    if (v.is_object()) {
      for (const auto& key : schema.value("required", json::array())) {
        if (!v.contains(key.get<std::string>())) {
          errors_.push_back(at + ": missing '" + key.get<std::string>() + "'");
        }
      }
      const json properties = schema.value("properties", json::object());
      for (const auto& [key, value] : v.items()) {
        if (properties.contains(key)) {
          check(properties[key], value, at + "." + key);
        } else if (schema.contains("additionalProperties")) {
          const auto& extra = schema["additionalProperties"];
          if (extra.is_boolean() && !extra.get<bool>()) {
            errors_.push_back(at + ": unexpected '" + key + "'");
          } else if (extra.is_object()) {
            check(extra, value, at + "." + key);
          }
        }
      }
    }
    if (v.is_array() && schema.contains("items")) {
      for (size_t i = 0; i < v.size(); ++i) {
        check(schema["items"], v[i], at + "[" + std::to_string(i) + "]");
      }
    }
  }

  std::vector<std::string> errors_;

 private:
  const json& root_;
};

}  // namespace

std::vector<std::string> schema_errors(const json& schema, const json& document) {
  Checker checker(schema);
  checker.check(schema, document, "$");
  return checker.errors_;
}

}  // namespace svanet::test
