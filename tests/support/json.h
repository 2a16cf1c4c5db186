#pragma once
// A small JSON reader for the committed golden files (tests only): the core
// tests build with LibTorch and GoogleTest alone, so they cannot use
// nlohmann-json. Objects keep their keys in file order.

#include <cstdint>
#include <istream>
#include <memory>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

namespace svanet::test {

class Json {
 public:
  enum class Kind { kNull, kBool, kNumber, kString, kArray, kObject };

  /// Parses a whole document; throws std::runtime_error with the offset.
  static Json parse(std::istream& in);
  static Json parse(const std::string& text);

  Kind kind() const { return kind_; }
  /// An object's member (throws when absent) or an array's element.
  const Json& at(const std::string& key) const;
  const Json& at(size_t index) const;
  bool contains(const std::string& key) const;
  size_t size() const;
  bool empty() const { return size() == 0; }

  /// An object's members in file order, for `for (const auto& [key, value] : j.items())`.
  const std::vector<std::pair<std::string, Json>>& items() const;
  /// An array's elements.
  std::vector<Json>::const_iterator begin() const;
  std::vector<Json>::const_iterator end() const;

  /// The value as T: bool, int64_t, double, std::string or a vector of
  /// int64_t, double or std::string. A mismatch throws.
  template <typename T>
  T get() const;

  operator std::string() const;  // NOLINT(google-explicit-constructor)
  operator int64_t() const;      // NOLINT(google-explicit-constructor)

  bool operator==(const std::string& text) const {
    return kind_ == Kind::kString && string_ == text;
  }
  bool operator==(const char* text) const { return *this == std::string(text); }

 private:
  friend class JsonParser;
  Kind kind_ = Kind::kNull;
  bool bool_ = false;
  double number_ = 0.0;
  std::string string_;
  std::vector<Json> array_;
  std::vector<std::pair<std::string, Json>> object_;
};

template <>
bool Json::get<bool>() const;
template <>
double Json::get<double>() const;
template <>
int64_t Json::get<int64_t>() const;
template <>
std::string Json::get<std::string>() const;
template <>
std::vector<int64_t> Json::get<std::vector<int64_t>>() const;
template <>
std::vector<double> Json::get<std::vector<double>>() const;
template <>
std::vector<std::string> Json::get<std::vector<std::string>>() const;

std::ostream& operator<<(std::ostream& out, const Json& value);

}  // namespace svanet::test
