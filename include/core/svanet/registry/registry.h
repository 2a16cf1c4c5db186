#pragma once
/// @file
/// One registry for every kind of pluggable component (mmengine's
/// `Registry`, timm's `register_model`): models, losses, optimizers,
/// learning-rate schedules and datasets are all registered and built the
/// same way, by name, from options checked against the entry's schema.
///
///     auto& losses = svanet::losses::loss_registry();
///     losses.add({"my_loss", "my loss for tiny lesions", my_fields().schema(), {},
///                 [](const svanet::OptionMap& o, const svanet::losses::LossContext& c) {
///                   return std::make_unique<MyLoss>(my_fields().parse(o), c);
///                 }});
///     auto loss = losses.create("my_loss", {{"gamma", "3"}}, context);
///
/// Registration is open: any translation unit linked into a program may add
/// entries, before or after svanet's own (which are added the first time a
/// registry is used). Adding and looking up are thread-safe; entries are
/// never removed, so references to them stay valid.

#include "svanet/common/error.h"
#include "svanet/registry/options.h"
#include "svanet/utils/text.h"

#include <algorithm>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace svanet {

/// What every entry shows in listings (`svanet list`).
struct ComponentInfo {
  std::string name;
  std::string description;
  OptionSchema schema;
};

/// No extra facts about an entry.
struct NoTraits {};

/// What every registry offers whatever its factories take: what listings
/// (`svanet list`) and configs (checking a component's options) need.
class RegistryBase {
 public:
  virtual ~RegistryBase() = default;
  /// "model", "loss", ... and "models", "losses", ...
  virtual const std::string& kind() const = 0;
  virtual const std::string& plural() const = 0;
  virtual bool contains(const std::string& name) const = 0;
  /// The registered names, in registration order.
  virtual std::vector<std::string> names() const = 0;
  /// Name, description and schema of every entry.
  virtual std::vector<ComponentInfo> list() const = 0;
  /// The schema of `name`; an unknown name throws svanet::Error listing
  /// the registered ones.
  virtual const OptionSchema& schema(const std::string& name) const = 0;
  /// `values` checked against the schema of `name` (see resolve_options)
  /// and, when complete (`fill_defaults`), by the entry's own check.
  virtual OptionMap resolve(const std::string& name, const OptionMap& values,
                            bool fill_defaults = true) const = 0;
};

/// A registry of named factories of one kind. `Traits` holds facts a kind
/// records beside the factory (for models: the family and nominal size).
template <typename Factory, typename Traits = NoTraits>
class Registry : public RegistryBase {
 public:
  struct Entry {
    std::string name;
    /// One line: what the component is.
    std::string description;
    /// Its options (name, type, default, help), declared once.
    OptionSchema schema;
    Traits traits{};
    Factory factory;
    /// Optional: checks complete option values beyond their types (ranges,
    /// list lengths), throwing svanet::Error that names the option.
    std::function<void(const OptionMap&)> check{};
  };

  /// `kind` and `plural` name the entries in messages ("loss", "losses").
  Registry(std::string kind, std::string plural)
      : kind_(std::move(kind)), plural_(std::move(plural)) {}
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  const std::string& kind() const override { return kind_; }
  const std::string& plural() const override { return plural_; }

  /// Adds an entry. An empty or already registered name, or an entry
  /// without a factory, throws svanet::Error.
  void add(Entry entry) {
    SVANET_CHECK(!entry.name.empty(), "a ", kind_, " needs a name to be registered");
    SVANET_CHECK(static_cast<bool>(entry.factory), kind_, " '", entry.name,
                 "' is registered without a factory");
    std::lock_guard<std::mutex> lock(mutex_);
    SVANET_CHECK(find_locked(entry.name) == nullptr, "a ", kind_, " named '", entry.name,
                 "' is already registered");
    entries_.push_back(std::move(entry));
  }

  bool contains(const std::string& name) const override {
    std::lock_guard<std::mutex> lock(mutex_);
    return find_locked(name) != nullptr;
  }

  /// The entry named `name`; an unknown name throws svanet::Error listing
  /// the registered ones.
  const Entry& get(const std::string& name) const {
    std::lock_guard<std::mutex> lock(mutex_);
    if (const Entry* e = find_locked(name)) return *e;
    const auto names = names_locked();
    SVANET_FAIL("unknown ", kind_, " '", name, "'", utils::did_you_mean(name, names),
                "; registered ", plural_, ": ", utils::join(names, ", "));
  }

  std::vector<std::string> names() const override {
    std::lock_guard<std::mutex> lock(mutex_);
    return names_locked();
  }

  /// Every entry, in registration order.
  std::vector<const Entry*> entries() const {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<const Entry*> out;
    out.reserve(entries_.size());
    for (const auto& e : entries_) out.push_back(&e);
    return out;
  }

  std::vector<ComponentInfo> list() const override {
    std::vector<ComponentInfo> out;
    for (const Entry* e : entries()) out.push_back({e->name, e->description, e->schema});
    return out;
  }

  const OptionSchema& schema(const std::string& name) const override { return get(name).schema; }

  OptionMap resolve(const std::string& name, const OptionMap& values,
                    bool fill_defaults = true) const override {
    const Entry& entry = get(name);
    const std::string owner = kind_ + " '" + name + "'";
    OptionMap resolved = resolve_options(entry.schema, values, owner, fill_defaults);
    if (fill_defaults && entry.check) {
      try {
        entry.check(resolved);
      } catch (const Error& e) {
        SVANET_FAIL(owner, ": ", e.what());
      }
    }
    return resolved;
  }

  /// Builds `name` from `values` (checked and completed with the defaults)
  /// and the kind's other arguments. Errors of the factory are rethrown
  /// with the entry named in front.
  template <typename... Args>
  auto create(const std::string& name, const OptionMap& values, Args&&... args) const {
    const Entry& entry = get(name);
    const OptionMap resolved = resolve(name, values);
    try {
      return entry.factory(resolved, std::forward<Args>(args)...);
    } catch (const Error& e) {
      SVANET_FAIL(kind_, " '", name, "': ", e.what());
    }
  }

 private:
  const Entry* find_locked(const std::string& name) const {
    for (const auto& e : entries_) {
      if (e.name == name) return &e;
    }
    return nullptr;
  }
  std::vector<std::string> names_locked() const {
    std::vector<std::string> out;
    out.reserve(entries_.size());
    for (const auto& e : entries_) out.push_back(e.name);
    return out;
  }

  std::string kind_, plural_;
  mutable std::mutex mutex_;
  /// A deque: adding never moves the entries that references point to.
  std::deque<Entry> entries_;
};

/// A component chosen by name with its option values: what a config's
/// `train.loss`, `train.optimizer` or `train.schedule` section holds.
struct ComponentSpec {
  std::string name;
  /// The component's options as text, usually all of them (see
  /// RegistryBase::resolve).
  OptionMap options;

  /// Option `key` as T (bool, int64_t, double, std::string or a vector of
  /// int64_t or double); a missing key throws svanet::Error.
  template <typename T>
  T get(const std::string& key) const {
    const auto it = options.find(key);
    SVANET_CHECK(it != options.end(), "'", name, "' has no option '", key, "'");
    return detail::OptionTraits<T>::parse(it->second);
  }
};

/// `name` of `registry` with every option at its default.
inline ComponentSpec default_component(const RegistryBase& registry, const std::string& name) {
  return {name, registry.resolve(name, {})};
}

}  // namespace svanet
