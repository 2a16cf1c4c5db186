#include "support/json.h"

#include <cmath>
#include <cstdlib>
#include <iterator>
#include <sstream>
#include <stdexcept>

namespace svanet::test {

class JsonParser {
 public:
  explicit JsonParser(const std::string& text) : text_(text) {}

  Json document() {
    Json value = parse_value();
    skip_space();
    if (pos_ != text_.size()) fail("trailing characters");
    return value;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw std::runtime_error("JSON: " + what + " at offset " + std::to_string(pos_));
  }
  void skip_space() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\n' ||
                                   text_[pos_] == '\r' || text_[pos_] == '\t')) {
      ++pos_;
    }
  }
  bool consume(char c) {
    skip_space();
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  void expect(char c) {
    if (!consume(c)) fail(std::string("expected '") + c + "'");
  }
  bool literal(const char* word) {
    const std::string w(word);
    if (text_.compare(pos_, w.size(), w) != 0) return false;
    pos_ += w.size();
    return true;
  }

  std::string parse_string() {
    expect('"');
    std::string out;
    while (pos_ < text_.size() && text_[pos_] != '"') {
      char c = text_[pos_++];
      if (c == '\\') {
        if (pos_ >= text_.size()) fail("unfinished escape");
        const char e = text_[pos_++];
        switch (e) {
          case 'n':
            c = '\n';
            break;
          case 't':
            c = '\t';
            break;
          case 'r':
            c = '\r';
            break;
          case 'b':
            c = '\b';
            break;
          case 'f':
            c = '\f';
            break;
          case 'u': {
            if (pos_ + 4 > text_.size()) fail("short \\u escape");
            const long code = std::strtol(text_.substr(pos_, 4).c_str(), nullptr, 16);
            pos_ += 4;
            if (code >= 0x80) fail("non-ASCII \\u escapes are not supported");
            c = static_cast<char>(code);
            break;
          }
          default:
            c = e;  // \" \\ \/
        }
      }
      out += c;
    }
    expect('"');
    return out;
  }

  Json parse_value() {
    skip_space();
    if (pos_ >= text_.size()) fail("unexpected end");
    Json j;
    const char c = text_[pos_];
    if (c == '{') {
      ++pos_;
      j.kind_ = Json::Kind::kObject;
      if (consume('}')) return j;
      do {
        skip_space();
        std::string key = parse_string();
        expect(':');
        j.object_.emplace_back(std::move(key), parse_value());
      } while (consume(','));
      expect('}');
    } else if (c == '[') {
      ++pos_;
      j.kind_ = Json::Kind::kArray;
      if (consume(']')) return j;
      do {
        j.array_.push_back(parse_value());
      } while (consume(','));
      expect(']');
    } else if (c == '"') {
      j.kind_ = Json::Kind::kString;
      j.string_ = parse_string();
    } else if (literal("true")) {
      j.kind_ = Json::Kind::kBool;
      j.bool_ = true;
    } else if (literal("false")) {
      j.kind_ = Json::Kind::kBool;
    } else if (literal("null")) {
      j.kind_ = Json::Kind::kNull;
    } else {
      const char* start = text_.c_str() + pos_;
      char* end = nullptr;
      j.number_ = std::strtod(start, &end);
      if (end == start) fail("unexpected character");
      j.kind_ = Json::Kind::kNumber;
      pos_ += static_cast<size_t>(end - start);
    }
    return j;
  }

  const std::string& text_;
  size_t pos_ = 0;
};

Json Json::parse(const std::string& text) {
  return JsonParser(text).document();
}

Json Json::parse(std::istream& in) {
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return parse(text);
}

const Json& Json::at(const std::string& key) const {
  if (kind_ != Kind::kObject) throw std::runtime_error("JSON: not an object (key '" + key + "')");
  for (const auto& [k, v] : object_) {
    if (k == key) return v;
  }
  throw std::runtime_error("JSON: no key '" + key + "'");
}

const Json& Json::at(size_t index) const {
  if (kind_ != Kind::kArray || index >= array_.size()) {
    throw std::runtime_error("JSON: no element " + std::to_string(index));
  }
  return array_[index];
}

bool Json::contains(const std::string& key) const {
  if (kind_ != Kind::kObject) return false;
  for (const auto& item : object_) {
    if (item.first == key) return true;
  }
  return false;
}

size_t Json::size() const {
  return kind_ == Kind::kObject ? object_.size() : array_.size();
}

const std::vector<std::pair<std::string, Json>>& Json::items() const {
  if (kind_ != Kind::kObject) throw std::runtime_error("JSON: items() of a non-object");
  return object_;
}

std::vector<Json>::const_iterator Json::begin() const {
  if (kind_ != Kind::kArray) throw std::runtime_error("JSON: iterating a non-array");
  return array_.begin();
}

std::vector<Json>::const_iterator Json::end() const {
  return array_.end();
}

template <>
bool Json::get<bool>() const {
  if (kind_ != Kind::kBool) throw std::runtime_error("JSON: not a boolean");
  return bool_;
}

template <>
double Json::get<double>() const {
  if (kind_ != Kind::kNumber) throw std::runtime_error("JSON: not a number");
  return number_;
}

template <>
int64_t Json::get<int64_t>() const {
  const double v = get<double>();
  if (std::floor(v) != v) throw std::runtime_error("JSON: not an integer");
  return static_cast<int64_t>(v);
}

template <>
std::string Json::get<std::string>() const {
  if (kind_ != Kind::kString) throw std::runtime_error("JSON: not a string");
  return string_;
}

template <>
std::vector<int64_t> Json::get<std::vector<int64_t>>() const {
  std::vector<int64_t> out;
  for (const auto& item : *this) out.push_back(item.get<int64_t>());
  return out;
}

template <>
std::vector<double> Json::get<std::vector<double>>() const {
  std::vector<double> out;
  for (const auto& item : *this) out.push_back(item.get<double>());
  return out;
}

template <>
std::vector<std::string> Json::get<std::vector<std::string>>() const {
  std::vector<std::string> out;
  for (const auto& item : *this) out.push_back(item.get<std::string>());
  return out;
}

Json::operator std::string() const {
  return get<std::string>();
}

Json::operator int64_t() const {
  return get<int64_t>();
}

std::ostream& operator<<(std::ostream& out, const Json& value) {
  switch (value.kind()) {
    case Json::Kind::kNull:
      return out << "null";
    case Json::Kind::kBool:
      return out << (value.get<bool>() ? "true" : "false");
    case Json::Kind::kNumber:
      return out << value.get<double>();
    case Json::Kind::kString:
      return out << '"' << value.get<std::string>() << '"';
    case Json::Kind::kArray: {
      out << '[';
      bool first = true;
      for (const auto& item : value) {
        out << (first ? "" : ", ") << item;
        first = false;
      }
      return out << ']';
    }
    case Json::Kind::kObject:
      return out << "{... " << value.size() << " keys}";
  }
  return out;
}

}  // namespace svanet::test
