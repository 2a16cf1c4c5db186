#pragma once
// JSON has no NaN or infinity: such numbers are written as null and read
// back as NaN.

#include <nlohmann/json.hpp>

#include <cmath>
#include <limits>

namespace svanet::utils {

inline nlohmann::json json_number(double v) {
  return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr);
}

inline double json_number(const nlohmann::json& j) {
  return j.is_null() ? std::numeric_limits<double>::quiet_NaN() : j.get<double>();
}

}  // namespace svanet::utils
