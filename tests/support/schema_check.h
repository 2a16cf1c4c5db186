// A JSON Schema check for the tests: the subset docs/*.schema.json use
// (type, properties, required, additionalProperties, items, enum, const,
// minimum, maximum, $ref to #/$defs/NAME), so that a test fails when a
// written file and its documented schema part ways.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace svanet::test {

/// Where `document` breaks `schema`, one line each ("$.headline.dice: expected
/// number, got string"); empty when it conforms.
std::vector<std::string> schema_errors(const nlohmann::json& schema,
                                       const nlohmann::json& document);

}  // namespace svanet::test
