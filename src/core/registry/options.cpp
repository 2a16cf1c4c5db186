#include "svanet/registry/options.h"

#include "svanet/common/error.h"
#include "svanet/utils/text.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <limits>

namespace svanet {

namespace {

/// The items of a list written "1,2,3", "[1, 2, 3]" or "1 2 3"; none for
/// "" or "[]".
std::vector<std::string> list_items(const std::string& text) {
  std::string t = utils::trim(text);
  if (t.size() >= 2 && t.front() == '[' && t.back() == ']') t = t.substr(1, t.size() - 2);
  for (char& c : t) {
    if (c == ',') c = ' ';
  }
  std::vector<std::string> items;
  for (const auto& part : utils::split(t, ' ')) {
    const std::string item = utils::trim(part);
    if (!item.empty()) items.push_back(item);
  }
  return items;
}

template <typename T>
std::string join_formatted(const std::vector<T>& values) {
  std::string out;
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ',';
    out += detail::OptionTraits<T>::format(values[i]);
  }
  return out;
}

}  // namespace

const char* option_type_name(OptionType type) {
  switch (type) {
    case OptionType::kBool:
      return "bool";
    case OptionType::kInt:
      return "int";
    case OptionType::kFloat:
      return "float";
    case OptionType::kText:
      return "text";
    case OptionType::kIntList:
      return "int list";
    case OptionType::kFloatList:
      return "float list";
    case OptionType::kTextList:
      return "text list";
  }
  return "text";
}

bool is_list(OptionType type) {
  return type == OptionType::kIntList || type == OptionType::kFloatList ||
         type == OptionType::kTextList;
}

const OptionInfo* find_option(const OptionSchema& schema, const std::string& name) {
  for (const auto& option : schema) {
    if (option.name == name) return &option;
  }
  return nullptr;
}

std::vector<std::string> option_names(const OptionSchema& schema) {
  std::vector<std::string> names;
  names.reserve(schema.size());
  for (const auto& option : schema) names.push_back(option.name);
  return names;
}

std::string canonical_value(const OptionInfo& option, const std::string& value) {
  using detail::OptionTraits;
  switch (option.type) {
    case OptionType::kBool:
      return OptionTraits<bool>::format(OptionTraits<bool>::parse(value));
    case OptionType::kInt:
      try {
        return OptionTraits<int64_t>::format(OptionTraits<int64_t>::parse(value));
      } catch (const Error&) {
        // Seeds may exceed the signed range.
        try {
          return OptionTraits<uint64_t>::format(OptionTraits<uint64_t>::parse(value));
        } catch (const Error&) {
        }
        throw;
      }
    case OptionType::kFloat:
      return OptionTraits<double>::format(OptionTraits<double>::parse(value));
    case OptionType::kText:
      if (!option.choices.empty()) {
        const auto& c = option.choices;
        SVANET_CHECK(std::find(c.begin(), c.end(), value) != c.end(), "expected one of ",
                     utils::join(c, ", "), "; got '", value, "'");
      }
      return value;
    case OptionType::kIntList:
      return join_formatted(OptionTraits<std::vector<int64_t>>::parse(value));
    case OptionType::kFloatList:
      return join_formatted(OptionTraits<std::vector<double>>::parse(value));
    case OptionType::kTextList: {
      const auto items = OptionTraits<std::vector<std::string>>::parse(value);
      if (!option.choices.empty()) {
        const auto& c = option.choices;
        for (const auto& item : items) {
          SVANET_CHECK(std::find(c.begin(), c.end(), item) != c.end(), "expected items among ",
                       utils::join(c, ", "), "; got '", item, "'");
        }
      }
      return join_formatted(items);
    }
  }
  return value;
}

OptionMap resolve_options(const OptionSchema& schema, const OptionMap& values,
                          const std::string& owner, bool fill_defaults) {
  OptionMap out;
  if (fill_defaults) {
    for (const auto& option : schema) out[option.name] = option.default_value;
  }
  for (const auto& [name, value] : values) {
    const OptionInfo* option = find_option(schema, name);
    SVANET_CHECK(option != nullptr, "unknown option '", name, "' for ", owner,
                 utils::did_you_mean(name, option_names(schema)), "; valid options: ",
                 schema.empty() ? std::string("none") : utils::join(option_names(schema), ", "));
    try {
      out[name] = canonical_value(*option, value);
    } catch (const Error& e) {
      SVANET_FAIL("option '", name, "' of ", owner, ": ", e.what());
    }
  }
  return out;
}

namespace detail {

bool OptionTraits<bool>::parse(const std::string& text) {
  return utils::parse_bool(text);
}
std::string OptionTraits<bool>::format(bool value) {
  return value ? "true" : "false";
}

int64_t OptionTraits<int64_t>::parse(const std::string& text) {
  return utils::parse_int(text);
}
std::string OptionTraits<int64_t>::format(int64_t value) {
  return std::to_string(value);
}

int OptionTraits<int>::parse(const std::string& text) {
  const int64_t v = utils::parse_int(text);
  SVANET_CHECK(v >= std::numeric_limits<int>::min() && v <= std::numeric_limits<int>::max(),
               "expected an integer between ", std::numeric_limits<int>::min(), " and ",
               std::numeric_limits<int>::max(), ", got '", text, "'");
  return static_cast<int>(v);
}
std::string OptionTraits<int>::format(int value) {
  return std::to_string(value);
}

uint64_t OptionTraits<uint64_t>::parse(const std::string& text) {
  const std::string t = utils::trim(text);
  SVANET_CHECK(!t.empty() && t[0] != '-' && t[0] != '+', "expected a non-negative integer, got '",
               text, "'");
  errno = 0;
  char* end = nullptr;
  const unsigned long long v = std::strtoull(t.c_str(), &end, 10);
  SVANET_CHECK(errno == 0 && end != t.c_str() && *end == '\0',
               "expected a non-negative integer, got '", text, "'");
  return static_cast<uint64_t>(v);
}
std::string OptionTraits<uint64_t>::format(uint64_t value) {
  return std::to_string(value);
}

double OptionTraits<double>::parse(const std::string& text) {
  return utils::parse_double(text);
}
std::string OptionTraits<double>::format(double value) {
  return utils::format_number(value);
}

std::vector<int64_t> OptionTraits<std::vector<int64_t>>::parse(const std::string& text) {
  std::vector<int64_t> out;
  for (const auto& item : list_items(text)) {
    try {
      out.push_back(utils::parse_int(item));
    } catch (const Error&) {
      SVANET_FAIL("expected a list of integers, got '", text, "'");
    }
  }
  return out;
}
std::string OptionTraits<std::vector<int64_t>>::format(const std::vector<int64_t>& value) {
  return join_formatted(value);
}

std::vector<double> OptionTraits<std::vector<double>>::parse(const std::string& text) {
  std::vector<double> out;
  for (const auto& item : list_items(text)) {
    try {
      out.push_back(utils::parse_double(item));
    } catch (const Error&) {
      SVANET_FAIL("expected a list of numbers, got '", text, "'");
    }
  }
  return out;
}
std::string OptionTraits<std::vector<double>>::format(const std::vector<double>& value) {
  return join_formatted(value);
}

std::vector<std::string> OptionTraits<std::vector<std::string>>::parse(const std::string& text) {
  return list_items(text);
}
std::string OptionTraits<std::vector<std::string>>::format(const std::vector<std::string>& value) {
  for (const auto& item : value) {
    SVANET_CHECK(!item.empty() && item.find_first_of(", []") == std::string::npos,
                 "a list item cannot be empty or hold a comma, a space or a bracket, got '", item,
                 "'");
  }
  return join_formatted(value);
}

void fail_option(const std::string& name, const std::string& message) {
  if (name.empty()) SVANET_FAIL(message);
  SVANET_FAIL("option '", name, "': ", message);
}

}  // namespace detail

}  // namespace svanet
