#include "config/schema.h"

#include "svanet/utils/atomic_file.h"

#include <algorithm>
#include <filesystem>

namespace svanet::config {

namespace {

/// `path` and every section above it, longest first ("a.b.c", "a.b", "a", "").
std::vector<std::string> prefixes(const std::string& path) {
  std::vector<std::string> out{path};
  std::string p = path;
  while (!p.empty()) {
    const auto dot = p.rfind('.');
    p = dot == std::string::npos ? std::string() : p.substr(0, dot);
    out.push_back(p);
  }
  return out;
}

/// The keys a component section takes: `name` and the entry's options.
std::vector<std::string> component_keys(const RegistryBase& registry, const std::string& name) {
  std::vector<std::string> keys{"name"};
  if (registry.contains(name)) {
    for (const auto& option : registry.schema(name)) keys.push_back(option.name);
  }
  return keys;
}

}  // namespace

void Origins::from_file(const std::string& path, const std::string& file) {
  const std::string below = path.empty() ? "" : path + ".";
  for (auto it = entries_.begin(); it != entries_.end();) {
    const bool inside = path.empty() || it->first.rfind(below, 0) == 0;
    it = inside && it->first != path ? entries_.erase(it) : std::next(it);
  }
  entries_[path] = {file, false};
}

void Origins::from_override(const std::string& path, const std::string& text) {
  from_file(path, text);
  entries_[path].is_override = true;
}

const Origins::Entry* Origins::find(const std::string& path) const {
  for (const auto& p : prefixes(path)) {
    if (auto it = entries_.find(p); it != entries_.end()) return &it->second;
  }
  return nullptr;
}

std::string Origins::where(const YAML::Node& node, const std::string& path) const {
  const Entry* entry = find(path);
  if (entry != nullptr && entry->is_override) return "--set '" + entry->origin + "'";
  return utils::where(node, entry != nullptr ? entry->origin : default_file_);
}

std::string invalid_value(const std::string& path, const std::string& text,
                          const std::string& reason) {
  std::string why = reason;
  for (const std::string& repeat : {", got '" + text + "'", "; got '" + text + "'"}) {
    if (why.size() > repeat.size() &&
        why.compare(why.size() - repeat.size(), repeat.size(), repeat) == 0) {
      why.erase(why.size() - repeat.size());
    }
  }
  return "'" + path + "' has an invalid value '" + text + "' (" + why + ")";
}

std::string join_path(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}

std::string node_text(const YAML::Node& node, const Origins& origins, const std::string& path,
                      bool list) {
  if (node.IsScalar()) return node.Scalar();
  if (list && node.IsSequence()) {
    std::vector<std::string> items;
    for (const auto& item : node) {
      SVANET_CHECK(item.IsScalar(), origins.where(item, path), ": '", path,
                   "' must be a list of plain values");
      items.push_back(item.Scalar());
    }
    return utils::join(items, ",");
  }
  SVANET_FAIL(origins.where(node, path), ": '", path, "' must be ",
              list ? "a list of values" : "a single value");
}

void emit_option(YAML::Emitter& out, OptionType type, const std::string& text) {
  switch (type) {
    case OptionType::kBool:
      out << (text == "true");
      return;
    case OptionType::kInt:
    case OptionType::kFloat:
      out << text;
      return;
    case OptionType::kText:
      out << text;
      return;
    case OptionType::kIntList:
    case OptionType::kFloatList:
    case OptionType::kTextList:
      out << YAML::Flow << YAML::BeginSeq;
      for (const auto& item : utils::split(text, ',')) {
        if (!item.empty()) out << item;
      }
      out << YAML::EndSeq;
      return;
  }
}

void check_mapping_keys(const YAML::Node& node, const std::vector<std::string>& valid,
                        const Origins& origins, const std::string& path) {
  for (const auto& item : node) {
    const auto key = item.first.as<std::string>();
    SVANET_CHECK(std::find(valid.begin(), valid.end(), key) != valid.end(),
                 origins.where(item.first, join_path(path, key)), ": unknown key '",
                 join_path(path, key), "'", utils::did_you_mean(key, valid),
                 "; valid keys: ", utils::join(valid, ", "));
  }
}

void decode_component(const YAML::Node& node, const Origins& origins, const std::string& path,
                      const RegistryBase& registry, ComponentSpec& out) {
  SVANET_CHECK(node.IsMap(), origins.where(node, path), ": '", path, "' must be a mapping");
  std::string name = out.name;
  if (const YAML::Node n = node["name"]) {
    name = node_text(n, origins, join_path(path, "name"), false);
    SVANET_CHECK(registry.contains(name), origins.where(n, join_path(path, "name")), ": unknown ",
                 registry.kind(), " '", name, "'", utils::did_you_mean(name, registry.names()),
                 "; registered ", registry.plural(), ": ", utils::join(registry.names(), ", "));
  }
  check_mapping_keys(node, component_keys(registry, name), origins, path);
  const OptionSchema& schema = registry.schema(name);
  OptionMap given;
  // A component keeps the values set so far only while its name stays.
  if (name == out.name) given = out.options;
  for (const auto& item : node) {
    const auto key = item.first.as<std::string>();
    if (key == "name") continue;
    const OptionInfo& option = *find_option(schema, key);
    const std::string key_path = join_path(path, key);
    const std::string text = node_text(item.second, origins, key_path, is_list(option.type));
    try {
      given[key] = canonical_value(option, text);
    } catch (const Error& e) {
      SVANET_FAIL(origins.where(item.second, key_path), ": ",
                  invalid_value(key_path, text, e.what()));
    }
  }
  try {
    out.options = registry.resolve(name, given);
  } catch (const Error& e) {
    // The entry's check sees all values at once; name the key whose value
    // fails it, when one alone does.
    YAML::Node at = node;
    std::string at_path = path;
    for (const auto& item : node) {
      const auto key = item.first.as<std::string>();
      if (key == "name") continue;
      OptionMap without = given;
      without.erase(key);
      try {
        registry.resolve(name, without);
      } catch (const Error&) {
        continue;
      }
      at = item.second;
      at_path = join_path(path, key);
      break;
    }
    SVANET_FAIL(origins.where(at, at_path), ": ", path, ": ", e.what());
  }
  out.name = name;
}

void encode_component(YAML::Emitter& out, const RegistryBase& registry, const ComponentSpec& spec) {
  out << YAML::BeginMap << YAML::Key << "name" << YAML::Value << spec.name;
  for (const auto& option : registry.schema(spec.name)) {
    const auto it = spec.options.find(option.name);
    out << YAML::Key << option.name << YAML::Value;
    emit_option(out, option.type, it != spec.options.end() ? it->second : option.default_value);
  }
  out << YAML::EndMap;
}

void apply_override(YAML::Node& root, const std::string& text, const Shape& shape,
                    Origins& origins) {
  const auto eq = text.find('=');
  SVANET_CHECK(eq != std::string::npos && eq > 0, "--set '", text,
               "': expected key=value, e.g. train.epochs=20");
  const std::string path = utils::trim(text.substr(0, eq));
  const std::string value = text.substr(eq + 1);
  const auto parts = utils::split(path, '.');
  const Shape* at = &shape;
  Shape leaf;  // the shape below a component or a map: a value
  std::string prefix;
  YAML::Node node;
  node.reset(root);
  for (const auto& part : parts) {
    SVANET_CHECK(!part.empty(), "--set '", text, "': empty key in '", path, "'");
    const std::string full = join_path(prefix, part);
    std::vector<std::string> valid;
    const Shape* next = &leaf;
    switch (at->kind) {
      case Shape::Kind::kSection:
        for (const auto& [key, sub] : at->keys) {
          valid.push_back(key);
          if (key == part) next = &sub;
        }
        break;
      case Shape::Kind::kComponent: {
        std::string name = at->default_name;
        if (node.IsMap() && node["name"] && node["name"].IsScalar()) name = node["name"].Scalar();
        valid = component_keys(*at->registry, name);
        // An unknown name is reported when the tree is parsed.
        if (!at->registry->contains(name)) valid.push_back(part);
        break;
      }
      case Shape::Kind::kMap:
        valid.push_back(part);
        break;
      case Shape::Kind::kValue:
        SVANET_FAIL("--set '", text, "': '", prefix, "' is a value, not a section");
    }
    SVANET_CHECK(std::find(valid.begin(), valid.end(), part) != valid.end(), "--set '", text,
                 "': unknown key '", full, "'", utils::did_you_mean(part, valid), "; valid keys",
                 prefix.empty() ? std::string() : " under '" + prefix + "'", ": ",
                 utils::join(valid, ", "));
    at = next;
    prefix = full;
    if (node.IsMap()) {
      YAML::Node child = node[part];
      node.reset(child);
    } else {
      node.reset(YAML::Node());
    }
  }
  if (at->kind == Shape::Kind::kSection || at->kind == Shape::Kind::kComponent) {
    std::vector<std::string> keys;
    if (at->kind == Shape::Kind::kSection) {
      for (const auto& item : at->keys) keys.push_back(item.first);
    } else {
      keys = component_keys(*at->registry, at->default_name);
    }
    SVANET_FAIL("--set '", text, "': '", path,
                "' is a section; set one of its keys: ", utils::join(keys, ", "));
  }
  YAML::Node parsed;
  try {
    parsed = YAML::Load(value);
  } catch (const YAML::Exception& e) {
    SVANET_FAIL("--set '", text, "': invalid value: ", e.msg);
  }
  YAML::Node target;
  target.reset(root);
  std::string section;
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    section = join_path(section, parts[i]);
    YAML::Node child = target[parts[i]];
    if (!child.IsMap()) {
      // A section the files did not have: everything in it comes from --set.
      target[parts[i]] = YAML::Node(YAML::NodeType::Map);
      child = target[parts[i]];
      origins.from_override(section, text);
    }
    target.reset(child);
  }
  if (utils::trim(value).empty() || parsed.IsNull()) {
    // key= or key=null: back to the default, whatever a file set.
    target.remove(parts.back());
  } else {
    target[parts.back()] = parsed;
  }
  origins.from_override(path, text);
}

namespace {

/// `overlay` on top of `base` (mappings merge key by key, anything else
/// replaces), recording where each part came from.
/// The trees are changed in place, not copied: YAML::Clone would lose the
/// line numbers that messages quote.
YAML::Node merge(YAML::Node base, const YAML::Node& overlay, const std::string& path,
                 const std::string& overlay_file, Origins& origins) {
  if (!base.IsMap() || !overlay.IsMap()) {
    origins.from_file(path, overlay_file);
    return overlay;
  }
  for (const auto& item : overlay) {
    const auto key = item.first.as<std::string>();
    const std::string child = join_path(path, key);
    if (base[key]) {
      base[key] = merge(base[key], item.second, child, overlay_file, origins);
    } else {
      base[key] = item.second;
      origins.from_file(child, overlay_file);
    }
  }
  return base;
}

/// Checks the keys of every section of a (partial) config tree.
void check_tree(const YAML::Node& node, const Shape& shape, const Origins& origins,
                const std::string& path) {
  if (!node.IsMap() || shape.kind != Shape::Kind::kSection) return;
  std::vector<std::string> keys;
  for (const auto& item : shape.keys) keys.push_back(item.first);
  // A base may itself start from another base (resolve merges the chain).
  if (path.empty()) keys.emplace_back("base");
  check_mapping_keys(node, keys, origins, path.empty() ? "config" : path);
  for (const auto& [key, sub] : shape.keys) {
    if (node[key]) check_tree(node[key], sub, origins, join_path(path, key));
  }
}

}  // namespace

namespace {

/// A config tree with its bases merged under it, and where its parts came
/// from (the parts no entry names come from the oldest base).
std::pair<YAML::Node, Origins> resolve(YAML::Node tree, const std::string& file,
                                       std::vector<std::string>& chain, const Shape& shape) {
  SVANET_CHECK(tree.IsMap(), file, ": expected a mapping at the top level");
  const YAML::Node base = tree["base"];
  if (!base) return {tree, Origins(file)};
  SVANET_CHECK(base.IsScalar(), utils::where(base, file), ": 'base' names another config file");
  namespace fs = std::filesystem;
  const fs::path dir =
      file.empty() || file[0] == '<' ? fs::current_path() : fs::path(file).parent_path();
  const std::string path = (dir / base.Scalar()).lexically_normal().string();
  SVANET_CHECK(std::find(chain.begin(), chain.end(), path) == chain.end(), utils::where(base, file),
               ": the base config ", path, " includes itself");
  SVANET_CHECK(fs::exists(path), utils::where(base, file), ": the base config ", path,
               " does not exist");
  chain.push_back(path);
  YAML::Node parent = utils::load_yaml(utils::read_file(path), path);
  if (parent.IsNull()) parent = YAML::Node(YAML::NodeType::Map);
  check_tree(parent, shape, Origins(path), "");
  auto [merged_parent, origins] = resolve(parent, path, chain, shape);
  tree.remove("base");
  YAML::Node merged = merge(merged_parent, tree, "", file, origins);
  return {merged, origins};
}

}  // namespace

YAML::Node resolve_bases(YAML::Node root, Origins& origins, const Shape& shape) {
  std::vector<std::string> chain{origins.source()};
  auto [tree, found] = resolve(std::move(root), origins.source(), chain, shape);
  origins.adopt(found);
  return tree;
}

}  // namespace svanet::config
