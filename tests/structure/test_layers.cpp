// The library layering, checked on the source tree (STYLE.md, "Layering"):
// svanet::core includes nothing but LibTorch, the standard library and
// itself; no folder of either library includes a folder that includes it
// back; each umbrella header lists every public header of its library.
//
//   ctest --test-dir build -R Layers
//
// This is the include-cycle check the architecture issue asks for; the
// build enforces the core's side too (its include path has no pipeline
// headers), this test also catches third-party headers found in
// /usr/include and cycles inside a library.

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace svanet::test {
namespace {

namespace fs = std::filesystem;

const fs::path kRoot = SVANET_SOURCE_DIR;

struct Include {
  std::string target;
  bool quoted = false;
  int line = 0;
};

std::vector<Include> includes_of(const fs::path& file) {
  static const std::regex directive(R"(^\s*#\s*include\s*([<"])([^">]+)[">])");
  std::ifstream in(file);
  std::vector<Include> out;
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    std::smatch m;
    if (std::regex_search(line, m, directive)) out.push_back({m[2].str(), m[1] == "\"", number});
  }
  return out;
}

bool is_source(const fs::path& p) {
  return p.extension() == ".h" || p.extension() == ".cpp";
}

/// The files of a library: its public headers and its sources.
struct Library {
  std::string name;
  std::vector<fs::path> public_roots;  // where "svanet/..." resolves
  fs::path private_root;               // where "area/file.h" resolves
};

const Library kCore{"core", {kRoot / "include/core"}, kRoot / "src/core"};
const Library kPipeline{"svanet", {kRoot / "include/core", kRoot / "include"}, kRoot / "src"};

bool under(const fs::path& file, const fs::path& dir) {
  const auto rel = file.lexically_relative(dir);
  return !rel.empty() && *rel.begin() != "..";
}

/// "core/models", "svanet/engine", ...: a folder of one library.
std::string area_of(const fs::path& file) {
  for (const auto& [root, lib] :
       std::vector<std::pair<fs::path, std::string>>{{kRoot / "include/core/svanet", "core"},
                                                     {kRoot / "src/core", "core"},
                                                     {kRoot / "include/svanet", "svanet"},
                                                     {kRoot / "src", "svanet"}}) {
    if (!under(file, root)) continue;
    const auto rel = file.lexically_relative(root);
    if (std::distance(rel.begin(), rel.end()) < 2) return lib;  // an umbrella header
    return lib + "/" + rel.begin()->string();
  }
  return {};
}

std::vector<fs::path> files_of(const Library& lib) {
  std::vector<fs::path> out;
  std::vector<fs::path> roots{lib.private_root};
  if (lib.name == "core") roots.push_back(kRoot / "include/core/svanet");
  if (lib.name == "svanet") roots.push_back(kRoot / "include/svanet");
  for (const auto& root : roots) {
    for (const auto& entry : fs::recursive_directory_iterator(root)) {
      if (!entry.is_regular_file() || !is_source(entry.path())) continue;
      // The pipeline's private root holds the core's sources and the CLI.
      if (lib.name == "svanet" &&
          (under(entry.path(), kRoot / "src/core") || under(entry.path(), kRoot / "src/cli")))
        continue;
      out.push_back(entry.path());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

/// The file a quoted include names, seen from a file of `lib`; empty when
/// it resolves nowhere in the library's reach.
fs::path resolve(const Library& lib, const fs::path& from, const std::string& target) {
  std::vector<fs::path> candidates{from.parent_path() / target};
  for (const auto& root : lib.public_roots) candidates.push_back(root / target);
  candidates.push_back(lib.private_root / target);
  for (const auto& c : candidates) {
    if (fs::exists(c)) return c.lexically_normal();
  }
  return {};
}

/// Third-party libraries that only the pipeline may use.
bool is_pipeline_dependency(const std::string& target) {
  static const std::vector<std::string> prefixes{"yaml-cpp/", "spdlog/",
                                                 "fmt/",      "opencv2/",
                                                 "opencv/",   "nlohmann/",
                                                 "CLI/",      "png.h",
                                                 "zlib.h",    "nifti",
                                                 "gloo/",     "gtest/",
                                                 "gmock/",    "torch/csrc/distributed/"};
  return std::any_of(prefixes.begin(), prefixes.end(),
                     [&](const std::string& p) { return target.rfind(p, 0) == 0; });
}

TEST(Layers, TheCoreIncludesOnlyLibTorchTheStandardLibraryAndItself) {
  std::vector<std::string> problems;
  const auto files = files_of(kCore);
  ASSERT_GT(files.size(), 40u);
  for (const auto& file : files) {
    for (const auto& inc : includes_of(file)) {
      const std::string where =
          file.lexically_relative(kRoot).string() + ":" + std::to_string(inc.line) + ": ";
      if (!inc.quoted) {
        if (is_pipeline_dependency(inc.target)) problems.push_back(where + "<" + inc.target + ">");
        continue;
      }
      if (inc.target == "svanet/version.h") continue;  // generated by CMake
      const fs::path resolved = resolve(kCore, file, inc.target);
      if (resolved.empty()) {
        problems.push_back(where + "\"" + inc.target + "\" is not a header of svanet::core");
      } else if (area_of(resolved).rfind("core", 0) != 0) {
        problems.push_back(where + "\"" + inc.target + "\" belongs to " + area_of(resolved));
      }
    }
  }
  EXPECT_TRUE(problems.empty()) << [&] {
    std::string s;
    for (const auto& p : problems) s += "\n  " + p;
    return s;
  }();
}

/// The folder graph of both libraries: area -> areas it includes.
std::map<std::string, std::set<std::string>> area_graph() {
  std::map<std::string, std::set<std::string>> graph;
  for (const Library* lib : {&kCore, &kPipeline}) {
    for (const auto& file : files_of(*lib)) {
      const std::string from = area_of(file);
      graph[from];
      for (const auto& inc : includes_of(file)) {
        if (!inc.quoted || inc.target == "svanet/version.h") continue;
        const fs::path resolved = resolve(*lib, file, inc.target);
        if (resolved.empty()) continue;
        const std::string to = area_of(resolved);
        if (!to.empty() && to != from) graph[from].insert(to);
      }
    }
  }
  return graph;
}

TEST(Layers, NoFolderIncludesAFolderThatIncludesItBack) {
  const auto graph = area_graph();
  ASSERT_TRUE(graph.count("core/models") && graph.count("svanet/engine"));
  // Depth-first search; a grey node met again closes a cycle.
  std::map<std::string, int> state;  // 0 new, 1 on the path, 2 done
  std::vector<std::string> path;
  std::vector<std::string> cycles;
  std::vector<std::string> order;
  std::function<void(const std::string&)> visit = [&](const std::string& node) {
    state[node] = 1;
    path.push_back(node);
    for (const auto& next : graph.at(node)) {
      if (state[next] == 1) {
        std::string cycle;
        for (auto it = std::find(path.begin(), path.end(), next); it != path.end(); ++it)
          cycle += *it + " -> ";
        cycles.push_back(cycle + next);
      } else if (state[next] == 0 && graph.count(next)) {
        visit(next);
      }
    }
    path.pop_back();
    state[node] = 2;
    order.push_back(node);
  };
  for (const auto& [node, edges] : graph) {
    if (state[node] == 0) visit(node);
  }
  EXPECT_TRUE(cycles.empty()) << [&] {
    std::string s = "include cycles between folders:";
    for (const auto& c : cycles) s += "\n  " + c;
    return s;
  }();
  // No core folder includes a pipeline one (the build enforces it too).
  for (const auto& [node, edges] : graph) {
    if (node.rfind("core", 0) != 0) continue;
    for (const auto& to : edges) EXPECT_EQ(to.rfind("core", 0), 0u) << node << " -> " << to;
  }
  std::ostringstream layers;
  for (const auto& node : order) layers << node << " ";
  std::cout << "[ layers   ] dependencies first: " << layers.str() << "\n";
}

TEST(Layers, EachUmbrellaHeaderListsEveryPublicHeaderOfItsLibrary) {
  for (const auto& [umbrella, root] : std::vector<std::pair<fs::path, fs::path>>{
           {kRoot / "include/core/svanet/core.h", kRoot / "include/core"},
           {kRoot / "include/svanet/svanet.h", kRoot / "include"}}) {
    SCOPED_TRACE(umbrella.string());
    std::set<std::string> listed;
    for (const auto& inc : includes_of(umbrella)) listed.insert(inc.target);
    // Headers a program opts into (they need a third-party library's
    // headers) are named on the umbrella's "Opt-in:" lines instead.
    std::ifstream text(umbrella);
    for (std::string line; std::getline(text, line);) {
      const auto at = line.find("Opt-in: ");
      if (at == std::string::npos) continue;
      std::istringstream names(line.substr(at + 8));
      for (std::string name; names >> name;) listed.insert(name);
    }
    for (const auto& entry : fs::recursive_directory_iterator(root / "svanet")) {
      if (!entry.is_regular_file() || entry.path().extension() != ".h") continue;
      const auto rel = entry.path().lexically_relative(root);
      if (std::distance(rel.begin(), rel.end()) < 3) continue;  // the umbrella itself
      EXPECT_TRUE(listed.count(rel.string())) << rel.string() << " is missing from " << umbrella;
    }
  }
}

}  // namespace
}  // namespace svanet::test
