#include "commands.h"

#include "svanet/common/error.h"
#include "svanet/data/convert.h"
#include "svanet/data/dataset.h"
#include "svanet/io/pretrained.h"
#include "svanet/losses/loss.h"
#include "svanet/metrics/registry.h"
#include "svanet/models/registry.h"
#include "svanet/optim/optimizer.h"
#include "svanet/optim/schedule.h"
#include "svanet/utils/text.h"

#include <cstdio>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace svanet::cli {

namespace {

/// The registries `svanet list` shows, by the name a user types.
std::vector<std::pair<std::string, const RegistryBase*>> registries() {
  return {{"models", &model_registry()},
          {"losses", &losses::loss_registry()},
          {"optimizers", &optim::optimizer_registry()},
          {"schedules", &optim::schedule_registry()},
          {"datasets", &data::dataset_registry()},
          {"converters", &data::converter_registry()},
          {"metrics", &metrics::metric_registry()}};
}

struct ListOptions {
  std::string kind;
  bool names_only = false;
};

int run_list(const ListOptions& opt) {
  const auto all = registries();
  bool shown = false;
  for (const auto& [kind, registry] : all) {
    if (!opt.kind.empty() && opt.kind != kind) continue;
    shown = true;
    const auto entries = registry->list();
    if (opt.names_only) {
      for (const auto& e : entries) std::printf("%s\n", e.name.c_str());
      continue;
    }
    std::printf("%s (%zu)\n", kind.c_str(), entries.size());
    for (const auto& e : entries) {
      std::printf("  %-22s %s\n", e.name.c_str(), e.description.c_str());
      OptionSchema schema = e.schema;
      if (kind == "models" && model_registry().get(e.name).traits.pretrained_encoder) {
        schema.push_back(io::pretrained_backbone_option());
      }
      print_schema(schema, 6);
      if (kind == "metrics") {
        const auto& t = metrics::metric(e.name).traits;
        std::printf("      %s; from %s; %s, %s is better%s\n", t.label.c_str(),
                    metrics::scope_name(t.scope).c_str(), metrics::unit_name(t.unit).c_str(),
                    t.higher_is_better ? "higher" : "lower", t.featured ? "; featured" : "");
      }
    }
    std::printf("\n");
  }
  if (!shown) {
    std::vector<std::string> kinds;
    kinds.reserve(all.size());
    for (const auto& item : all) kinds.push_back(item.first);
    SVANET_FAIL("svanet list: unknown kind '", opt.kind, "'; kinds: ", utils::join(kinds, ", "));
  }
  return 0;
}

}  // namespace

Command register_list(CLI::App& app) {
  auto opt = std::make_shared<ListOptions>();
  auto* sub = app.add_subcommand(
      "list",
      "List the registered components (models, losses, optimizers, schedules, datasets, "
      "metrics) with their options");
  sub->add_option("kind", opt->kind,
                  "models, losses, optimizers, schedules, datasets or metrics (all when "
                  "omitted)");
  sub->add_flag("--names", opt->names_only, "Only the names, one per line");
  add_examples(
      sub,
      {"svanet list", "svanet list losses", "svanet list models --names", "svanet list metrics"},
      "Each option shows its type, its default and what it does; a config sets them "
      "under the component's section (model.options, train.loss, train.optimizer, "
      "train.schedule).");
  return {sub, [opt] { return run_list(*opt); }};
}

}  // namespace svanet::cli
