#include "commands.h"

#include "svanet/io/pretrained.h"
#include "svanet/models/profile.h"
#include "svanet/models/registry.h"

#include <torch/torch.h>

#include <cstdio>
#include <memory>
#include <string>

namespace svanet::cli {

namespace {

struct ModelsOptions {
  int64_t num_classes = 2;
  int64_t image_size = 512;
  bool macs = true;
  std::string filter;
  bool options = false;
};

int run_models(const ModelsOptions& opt) {
  if (opt.macs) {
    std::printf("%-22s %-10s %14s %12s  %s\n", "model", "family", "parameters",
                ("GMACs@" + std::to_string(opt.image_size)).c_str(), "description");
  } else {
    std::printf("%-22s %-10s %14s  %s\n", "model", "family", "parameters", "description");
  }
  for (const auto& info : list_models()) {
    if (!opt.filter.empty() && info.name.find(opt.filter) == std::string::npos) {
      continue;
    }
    auto model = create_model(
        info.name, ModelOptions().num_classes(opt.num_classes).image_size(opt.image_size));
    const int64_t params = models::count_parameters(*model);
    if (opt.macs) {
      model->eval();
      torch::NoGradGuard no_grad;
      const auto input = torch::zeros({1, model->in_channels(), opt.image_size, opt.image_size});
      const int64_t macs = models::count_macs([&] { model->forward(input); });
      std::printf("%-22s %-10s %14lld %12.2f  %s\n", info.name.c_str(), info.family.c_str(),
                  static_cast<long long>(params), static_cast<double>(macs) / 1e9,
                  info.description.c_str());
    } else {
      std::printf("%-22s %-10s %14lld  %s\n", info.name.c_str(), info.family.c_str(),
                  static_cast<long long>(params), info.description.c_str());
    }
    std::fflush(stdout);
    if (opt.options) {
      const auto& entry = model_registry().get(info.name);
      OptionSchema schema = entry.schema;
      if (entry.traits.pretrained_encoder) schema.push_back(io::pretrained_backbone_option());
      print_schema(schema, 4);
    }
  }
  return 0;
}

}  // namespace

Command register_models(CLI::App& app) {
  auto opt = std::make_shared<ModelsOptions>();
  auto* sub = app.add_subcommand(
      "models", "List the registered models with their parameters and multiply-accumulates");
  add_num_classes_flag(sub, opt->num_classes)->capture_default_str();
  add_image_size_flag(sub, opt->image_size)->capture_default_str();
  sub->add_flag("!--no-macs", opt->macs, "Skip the MAC count (it runs one forward pass per model)");
  sub->add_option("--filter", opt->filter, "Only models whose name contains this text");
  sub->add_flag("--options", opt->options, "Also list each model's option keys");
  add_examples(sub,
               {"svanet models", "svanet models --filter r18 --image-size 256",
                "svanet models --no-macs --options"},
               "MACs are counted for one square image of the nominal size.");
  return {sub, [opt] { return run_models(*opt); }};
}

}  // namespace svanet::cli
