#pragma once
// The shape of svanet's YAML configs, declared once per struct (private to
// the library). A Section<S> lists the keys of one struct in order: values
// (typed by the member they reach), nested sections, registered components
// (`name:` plus the entry's own options) and the odd custom key. Parsing,
// key checking, `--set` path checking and emitting the resolved config all
// walk that one declaration.
//
//     const Section<EvaluateSection>& evaluate_section() {
//       static const auto s = Section<EvaluateSection>("evaluate")
//           .choice("split", SVANET_MEMBER(split), {"test", "val", "train"})
//           .value("overlays", SVANET_MEMBER(overlays), at_least<int64_t>(0));
//       return s;
//     }

#include "svanet/common/error.h"
#include "svanet/registry/registry.h"
#include "svanet/utils/text.h"
#include "utils/yaml.h"

#include <yaml-cpp/yaml.h>

#include <functional>
#include <map>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

/// An accessor of a plain data member, for Section's declarations (`name`
/// is a member's name, which parentheses would not compile around).
// NOLINTBEGIN(bugprone-macro-parentheses)
#define SVANET_MEMBER(name) \
  [](auto& s) -> auto& {    \
    return s.name;          \
  }
// NOLINTEND(bugprone-macro-parentheses)

namespace svanet::config {

/// Where the parts of a config tree came from, for messages: the config
/// file, one of its `base:` files, or a `--set` override.
class Origins {
 public:
  explicit Origins(std::string source) : source_(source), default_file_(std::move(source)) {}
  /// The config file the tree was read from.
  const std::string& source() const { return source_; }
  /// The file of the parts no entry names (the oldest base).
  void set_default_file(std::string file) { default_file_ = std::move(file); }
  /// Takes the entries and the default file of `other`, keeping the source.
  void adopt(const Origins& other) {
    entries_ = other.entries_;
    default_file_ = other.default_file_;
  }
  /// The subtree at `path` (dotted, "" = the root) came from `file`.
  void from_file(const std::string& path, const std::string& file);
  /// The subtree at `path` was set by `--set text`.
  void from_override(const std::string& path, const std::string& text);
  /// "file:line:column" of the node at `path`, or "--set 'text'" when an
  /// override put it (or a section above it) there.
  std::string where(const YAML::Node& node, const std::string& path) const;

 private:
  struct Entry {
    std::string origin;
    bool is_override = false;
  };
  const Entry* find(const std::string& path) const;
  std::string source_, default_file_;
  std::map<std::string, Entry> entries_;
};

/// What a key holds, for checking `--set` paths before parsing.
struct Shape {
  /// kMap: any keys, checked when the tree is parsed (model.options, whose
  /// keys depend on the model).
  enum class Kind { kValue, kSection, kComponent, kMap };
  Kind kind = Kind::kValue;
  /// kSection: the keys in order.
  std::vector<std::pair<std::string, Shape>> keys;
  /// kComponent: where its entries are, and the name used when none is set.
  const RegistryBase* registry = nullptr;
  std::string default_name;
};

/// "a.b" from "a" and "b" ("b" from "" and "b").
std::string join_path(const std::string& path, const std::string& key);

/// A scalar, or a sequence of scalars as "a,b,c"; anything else fails
/// naming `path`.
std::string node_text(const YAML::Node& node, const Origins& origins, const std::string& path,
                      bool list);

/// "'path' has an invalid value 'text' (expected an integer)": `reason` is
/// the parse error, without the value it repeats.
std::string invalid_value(const std::string& path, const std::string& text,
                          const std::string& reason);

/// Writes option text of `type` as YAML (numbers unquoted, lists as flow
/// sequences).
void emit_option(YAML::Emitter& out, OptionType type, const std::string& text);

/// Fails unless every key of the mapping `node` is in `valid` (the message
/// lists them).
void check_mapping_keys(const YAML::Node& node, const std::vector<std::string>& valid,
                        const Origins& origins, const std::string& path);

/// A check of a decoded value: an error message, or empty when it is fine.
template <typename T>
using ValueCheck = std::function<std::string(const T&)>;

/// "must be >= min, got v".
template <typename T>
ValueCheck<T> at_least(T min) {
  return [min](const T& v) {
    return v >= min ? std::string()
                    : "must be >= " + detail::OptionTraits<T>::format(min) + ", got " +
                          detail::OptionTraits<T>::format(v);
  };
}

/// A `name:` plus the registered entry's options (`train.loss`, ...).
void decode_component(const YAML::Node& node, const Origins& origins, const std::string& path,
                      const RegistryBase& registry, ComponentSpec& out);
void encode_component(YAML::Emitter& out, const RegistryBase& registry, const ComponentSpec& spec);

template <typename S>
class Section {
 public:
  using Decode = std::function<void(S&, const YAML::Node&, const Origins&, const std::string&)>;
  using Encode = std::function<void(YAML::Emitter&, const S&)>;

  /// `name` is how messages call the section when it is the top level.
  explicit Section(std::string name = "") : name_(std::move(name)) {}

  /// A value of one of the option types (bool, integers, double, text,
  /// lists of integers or doubles), optionally checked.
  template <typename Get,
            typename T = std::decay_t<decltype(std::declval<Get>()(std::declval<S&>()))>>
  Section& value(std::string key, Get get, ValueCheck<T> check = {}) {
    using Traits = detail::OptionTraits<T>;
    Member m;
    m.key = key;
    m.decode = [get, check](S& s, const YAML::Node& node, const Origins& origins,
                            const std::string& path) {
      const bool list = is_list(Traits::kType);
      const std::string text = node_text(node, origins, path, list);
      T value;
      try {
        value = Traits::parse(text);
      } catch (const Error& e) {
        SVANET_FAIL(origins.where(node, path), ": ", invalid_value(path, text, e.what()));
      }
      if (check) {
        const std::string problem = check(value);
        SVANET_CHECK(problem.empty(), origins.where(node, path), ": ", path, " ", problem);
      }
      get(s) = std::move(value);
    };
    m.encode = [get](YAML::Emitter& out, const S& s) {
      S copy = s;
      emit_option(out, Traits::kType, Traits::format(get(copy)));
    };
    members_.push_back(std::move(m));
    return *this;
  }

  /// A text value from a closed list: "<path> is a, b or c, got 'x'".
  template <typename Get>
  Section& choice(std::string key, Get get, std::vector<std::string> choices) {
    ValueCheck<std::string> check = [choices](const std::string& v) {
      for (const auto& c : choices) {
        if (c == v) return std::string();
      }
      std::string list;
      for (size_t i = 0; i < choices.size(); ++i) {
        list += (i == 0 ? "" : i + 1 == choices.size() ? " or " : ", ") + choices[i];
      }
      return "is " + list + ", got '" + v + "'";
    };
    // The message reads "<path> is a, b or c": drop the "must be" style.
    return value(std::move(key), get, check);
  }

  /// A nested section.
  template <typename Get, typename Sub>
  Section& section(std::string key, Get get, const Section<Sub>& sub) {
    Member m;
    m.key = key;
    m.shape = sub.shape();
    m.decode = [get, &sub](S& s, const YAML::Node& node, const Origins& origins,
                           const std::string& path) { sub.decode(node, origins, path, get(s)); };
    m.encode = [get, &sub](YAML::Emitter& out, const S& s) {
      S copy = s;
      sub.encode(out, get(copy));
    };
    members_.push_back(std::move(m));
    return *this;
  }

  /// A registered component: `name:` plus the entry's options.
  template <typename Get>
  Section& component(std::string key, Get get, const RegistryBase& registry,
                     std::string default_name) {
    Member m;
    m.key = key;
    m.shape.kind = Shape::Kind::kComponent;
    m.shape.registry = &registry;
    m.shape.default_name = std::move(default_name);
    m.decode = [get, &registry](S& s, const YAML::Node& node, const Origins& origins,
                                const std::string& path) {
      decode_component(node, origins, path, registry, get(s));
    };
    m.encode = [get, &registry](YAML::Emitter& out, const S& s) {
      S copy = s;
      encode_component(out, registry, get(copy));
    };
    members_.push_back(std::move(m));
    return *this;
  }

  /// A key with its own decoding and encoding.
  Section& custom(std::string key, Shape shape, Decode decode, Encode encode) {
    members_.push_back({std::move(key), std::move(shape), std::move(decode), std::move(encode)});
    return *this;
  }

  /// A key an older svanet wrote into every resolved config (so that its
  /// run folders still load) and no longer emits: read as text, accepted
  /// when `accept` returns an empty message for it (its old default, say),
  /// otherwise refused with that message.
  Section& retired(std::string key, std::function<std::string(const std::string&)> accept) {
    Member m;
    m.key = std::move(key);
    m.decode = [accept](S&, const YAML::Node& node, const Origins& origins,
                        const std::string& path) {
      const std::string problem = accept(node_text(node, origins, path, true));
      SVANET_CHECK(problem.empty(), origins.where(node, path), ": ", path, " ", problem);
    };
    m.emitted = false;
    members_.push_back(std::move(m));
    return *this;
  }

  /// The keys, in order.
  std::vector<std::string> keys() const {
    std::vector<std::string> out;
    out.reserve(members_.size());
    for (const auto& m : members_) out.push_back(m.key);
    return out;
  }

  Shape shape() const {
    Shape s;
    s.kind = Shape::Kind::kSection;
    for (const auto& m : members_) s.keys.emplace_back(m.key, m.shape);
    return s;
  }

  /// Reads the mapping `node` (the section at `path`) into `out`; keys
  /// not given keep the value `out` has.
  void decode(const YAML::Node& node, const Origins& origins, const std::string& path,
              S& out) const {
    SVANET_CHECK(node.IsMap(), origins.where(node, path), ": '", path, "' must be a mapping");
    check_mapping_keys(node, keys(), origins, path.empty() ? name_ : path);
    for (const auto& m : members_) {
      const YAML::Node child = node[m.key];
      if (child.IsDefined()) m.decode(out, child, origins, join_path(path, m.key));
    }
  }

  /// Writes every key of `value` as a YAML mapping.
  void encode(YAML::Emitter& out, const S& value) const {
    out << YAML::BeginMap;
    encode_members(out, value);
    out << YAML::EndMap;
  }

  /// Writes every key of `value` into a mapping the caller opened.
  void encode_members(YAML::Emitter& out, const S& value) const {
    for (const auto& m : members_) {
      if (!m.emitted) continue;
      out << YAML::Key << m.key << YAML::Value;
      m.encode(out, value);
    }
  }

 private:
  struct Member {
    std::string key;
    Shape shape;
    Decode decode;
    Encode encode;
    /// Written by encode (false for retired keys).
    bool emitted = true;
  };
  std::string name_;
  std::vector<Member> members_;
};

/// Applies one `--set path=value` to the config tree, checking the path
/// against `shape` (the top-level section's) first. `path=` or `path=null`
/// removes the key, so its default applies whatever a (base) file set.
void apply_override(YAML::Node& root, const std::string& text, const Shape& shape,
                    Origins& origins);

/// The tree of the config file `origins.source()` with its `base:` chain
/// merged under it (a base path is relative to the file naming it; each
/// base's keys are checked against `shape` first). Records in `origins`
/// which file each part came from.
YAML::Node resolve_bases(YAML::Node root, Origins& origins, const Shape& shape);

}  // namespace svanet::config
