#pragma once
/// @file
/// Options of pluggable components, declared once.
///
/// A component (a model family, a loss, an optimizer, a schedule, ...)
/// declares its options as a field table over its own options struct:
///
///     const Fields<FocalOptions>& focal_fields() {
///       static const auto fields = Fields<FocalOptions>()
///           .add(SVANET_FIELD(gamma, "focusing exponent"))
///           .add(SVANET_FIELD(class_weights, "one weight per class, or none"));
///       return fields;
///     }
///
/// From that one table come the option schema (name, type, default, help)
/// that the registry lists and checks, the values as text (what YAML
/// configs, `--set`, checkpoints and the resolved config.yaml hold), and the
/// typed struct a factory builds from. Text is the common form because every
/// front end (YAML, command line, a checkpoint's dict) can carry it; each
/// value is checked against its type when it enters.

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace svanet {

/// Option values as text by name: "true", "3", "0.25", "concat", "1,2,3".
using OptionMap = std::map<std::string, std::string>;

/// The type of an option's value.
enum class OptionType { kBool, kInt, kFloat, kText, kIntList, kFloatList, kTextList };

/// Whether values of `type` are lists (written "a,b,c"; YAML sequences).
bool is_list(OptionType type);

/// "bool", "int", "float", "text", "int list", "float list", "text list".
const char* option_type_name(OptionType type);

/// One option of a component.
struct OptionInfo {
  std::string name;
  OptionType type = OptionType::kText;
  /// The default in canonical text (see canonical_value); "" for an empty list.
  std::string default_value;
  std::string help;
  /// The accepted values of a text option; empty means any text.
  std::vector<std::string> choices;
};

/// Every option of a component, in declaration order.
using OptionSchema = std::vector<OptionInfo>;

/// The option named `name`, or nullptr.
const OptionInfo* find_option(const OptionSchema& schema, const std::string& name);

/// The names of a schema's options, in order.
std::vector<std::string> option_names(const OptionSchema& schema);

/// `value` checked against `option` and written canonically: booleans as
/// true/false, numbers in their shortest exact form, lists comma-separated
/// without spaces or brackets ("[1, 2]" -> "1,2"). Throws svanet::Error
/// saying what was expected ("expected an integer, got 'two'").
std::string canonical_value(const OptionInfo& option, const std::string& value);

/// Checks `values` against `schema` and returns them canonically, over the
/// schema's defaults when `fill_defaults`. Errors name the option and
/// `owner` (e.g. "model 'svanet_r50'"): "unknown option 'x' for model
/// 'svanet_r50'; valid options: ..." or "option 'link' of model
/// 'svanet_r50': expected one of none, add, concat; got 'sideways'".
OptionMap resolve_options(const OptionSchema& schema, const OptionMap& values,
                          const std::string& owner, bool fill_defaults = true);

namespace detail {

/// How a C++ type is written as option text. Specialised for bool, int,
/// int64_t, uint64_t, double, std::string and vectors of int64_t, double and
/// std::string.
template <typename T, typename = void>
struct OptionTraits;

template <>
struct OptionTraits<bool> {
  static constexpr OptionType kType = OptionType::kBool;
  static bool parse(const std::string& text);
  static std::string format(bool value);
};
template <>
struct OptionTraits<int64_t> {
  static constexpr OptionType kType = OptionType::kInt;
  static int64_t parse(const std::string& text);
  static std::string format(int64_t value);
};
template <>
struct OptionTraits<int> {
  static constexpr OptionType kType = OptionType::kInt;
  static int parse(const std::string& text);
  static std::string format(int value);
};
template <>
struct OptionTraits<uint64_t> {
  static constexpr OptionType kType = OptionType::kInt;
  static uint64_t parse(const std::string& text);
  static std::string format(uint64_t value);
};
template <>
struct OptionTraits<double> {
  static constexpr OptionType kType = OptionType::kFloat;
  static double parse(const std::string& text);
  static std::string format(double value);
};
template <>
struct OptionTraits<std::string> {
  static constexpr OptionType kType = OptionType::kText;
  static std::string parse(const std::string& text) { return text; }
  static std::string format(const std::string& value) { return value; }
};
template <>
struct OptionTraits<std::vector<int64_t>> {
  static constexpr OptionType kType = OptionType::kIntList;
  static std::vector<int64_t> parse(const std::string& text);
  static std::string format(const std::vector<int64_t>& value);
};
template <>
struct OptionTraits<std::vector<double>> {
  static constexpr OptionType kType = OptionType::kFloatList;
  static std::vector<double> parse(const std::string& text);
  static std::string format(const std::vector<double>& value);
};
/// Items are names: no commas, spaces or brackets.
template <>
struct OptionTraits<std::vector<std::string>> {
  static constexpr OptionType kType = OptionType::kTextList;
  static std::vector<std::string> parse(const std::string& text);
  static std::string format(const std::vector<std::string>& value);
};

/// Rethrows an svanet::Error from parsing option `name` with the name in front.
[[noreturn]] void fail_option(const std::string& name, const std::string& message);

}  // namespace detail

/// The field table of an options struct `S`: each field has a name, a help
/// line and an accessor (a callable taking `S&` and returning a reference to
/// the member), so its type and its default come from the struct itself.
template <typename S>
class Fields {
 public:
  /// A field whose type is one of detail::OptionTraits' types.
  template <typename Get>
  Fields& add(std::string name, std::string help, Get get) {
    using T = std::decay_t<decltype(get(std::declval<S&>()))>;
    Field f;
    f.info.name = std::move(name);
    f.info.type = detail::OptionTraits<T>::kType;
    f.info.help = std::move(help);
    f.set = [get](S& s, const std::string& text) { get(s) = detail::OptionTraits<T>::parse(text); };
    f.get = [get](S& s) { return detail::OptionTraits<T>::format(get(s)); };
    fields_.push_back(std::move(f));
    return *this;
  }

  /// A text field with a closed set of names for the values of `E` (an
  /// enum): `add_choice("link", "...", get, {{"none", kNone}, {"add", kAdd}})`.
  template <typename Get, typename E>
  Fields& add_choice(std::string name, std::string help, Get get,
                     std::vector<std::pair<std::string, E>> names) {
    Field f;
    f.info.name = std::move(name);
    f.info.type = OptionType::kText;
    f.info.help = std::move(help);
    for (const auto& n : names) f.info.choices.push_back(n.first);
    f.set = [get, names](S& s, const std::string& text) {
      for (const auto& [label, value] : names) {
        if (label == text) {
          get(s) = value;
          return;
        }
      }
      detail::fail_option("", "not one of the choices: '" + text + "'");
    };
    f.get = [get, names](S& s) {
      for (const auto& [label, value] : names) {
        if (value == get(s)) return label;
      }
      return std::string();
    };
    fields_.push_back(std::move(f));
    return *this;
  }

  /// The schema, with the defaults read from `defaults`.
  OptionSchema schema(const S& defaults = S{}) const {
    OptionSchema out;
    S copy = defaults;
    out.reserve(fields_.size());
    for (const auto& f : fields_) {
      OptionInfo info = f.info;
      info.default_value = f.get(copy);
      out.push_back(std::move(info));
    }
    return out;
  }

  /// Sets the fields named in `values` (the others keep their value). The
  /// values are checked, unknown names rejected; errors name the field.
  void apply(const OptionMap& values, S& target, const std::string& owner = "options") const {
    const OptionMap checked = resolve_options(schema(target), values, owner, false);
    for (const auto& [name, text] : checked) {
      for (const auto& f : fields_) {
        if (f.info.name == name) f.set(target, text);
      }
    }
  }

  /// `S` from `values` over `defaults`.
  S parse(const OptionMap& values, S defaults = S{}, const std::string& owner = "options") const {
    apply(values, defaults, owner);
    return defaults;
  }

  /// Every field of `source` as canonical text.
  OptionMap values(const S& source) const {
    OptionMap out;
    S copy = source;
    for (const auto& f : fields_) out[f.info.name] = f.get(copy);
    return out;
  }

 private:
  struct Field {
    OptionInfo info;
    std::function<void(S&, const std::string&)> set;
    std::function<std::string(S&)> get;
  };
  std::vector<Field> fields_;
};

}  // namespace svanet

/// The arguments of Fields::add for a TORCH_ARG member (`o.name()`): its
/// name as text, the help line and the accessor, so the name is written once.
// (clang-format would split the lambda and move `#name` to column 0.)
// clang-format off
#define SVANET_ARG_FIELD(name, help) \
  #name, help, [](auto& o) -> auto& { return o.name(); }
// clang-format on

/// The same for a plain data member (`o.name`).
// clang-format off
#define SVANET_FIELD(name, help) \
  #name, help, [](auto& o) -> auto& { return o.name; }
// clang-format on
