// The generic registry and the option tables every component declares:
// canonical values, schemas from one declaration, errors that name the
// option and the entry, and svanet's own registrations of every kind.

#include "support/test_support.h"

#include "svanet/common/error.h"
#include "svanet/losses/loss.h"
#include "svanet/models/registry.h"
#include "svanet/optim/optimizer.h"
#include "svanet/optim/schedule.h"
#include "svanet/registry/registry.h"

#include <torch/torch.h>

namespace svanet::test {
namespace {

enum class Colour { kRed, kGreen };

struct WidgetOptions {
  bool on = true;
  int64_t count = 3;
  double ratio = 0.25;
  std::string label = "w";
  std::vector<int64_t> sizes{1, 2};
  std::vector<double> weights;
  Colour colour = Colour::kGreen;
};

const Fields<WidgetOptions>& widget_fields() {
  static const auto fields =
      Fields<WidgetOptions>()
          .add(SVANET_FIELD(on, "switch"))
          .add(SVANET_FIELD(count, "how many"))
          .add(SVANET_FIELD(ratio, "a fraction"))
          .add(SVANET_FIELD(label, "a name"))
          .add(SVANET_FIELD(sizes, "sizes"))
          .add(SVANET_FIELD(weights, "weights"))
          .add_choice(
              "colour", "red or green", [](WidgetOptions& o) -> Colour& { return o.colour; },
              std::vector<std::pair<std::string, Colour>>{{"red", Colour::kRed},
                                                          {"green", Colour::kGreen}});
  return fields;
}

TEST(Options, ValuesAreCheckedAndWrittenCanonically) {
  auto info = [](OptionType type) {
    OptionInfo o;
    o.name = "x";
    o.type = type;
    return o;
  };
  EXPECT_EQ(canonical_value(info(OptionType::kBool), "Yes"), "true");
  EXPECT_EQ(canonical_value(info(OptionType::kInt), " 7 "), "7");
  EXPECT_EQ(canonical_value(info(OptionType::kInt), "18446744073709551615"),
            "18446744073709551615");
  EXPECT_EQ(canonical_value(info(OptionType::kFloat), "1e-3"), "0.001");
  EXPECT_EQ(canonical_value(info(OptionType::kFloat), "0.1"), "0.1");
  EXPECT_EQ(canonical_value(info(OptionType::kIntList), "[1, 2, 3]"), "1,2,3");
  EXPECT_EQ(canonical_value(info(OptionType::kIntList), "[]"), "");
  EXPECT_EQ(canonical_value(info(OptionType::kFloatList), "0.5 2"), "0.5,2");
  ASSERT_THROWS_WITH(canonical_value(info(OptionType::kInt), "two"),
                     "expected an integer, got 'two'");
  ASSERT_THROWS_WITH(canonical_value(info(OptionType::kBool), "maybe"), "maybe");
  ASSERT_THROWS_WITH(canonical_value(info(OptionType::kIntList), "1,x"),
                     "expected a list of integers, got '1,x'");
  OptionInfo choice = info(OptionType::kText);
  choice.choices = {"none", "add"};
  ASSERT_THROWS_WITH(canonical_value(choice, "both"), "expected one of none, add; got 'both'");
  EXPECT_EQ(canonical_value(info(OptionType::kTextList), "[dice, focal]"), "dice,focal");
  EXPECT_EQ(canonical_value(info(OptionType::kTextList), ""), "");
  OptionInfo items = info(OptionType::kTextList);
  items.choices = {"dice", "focal"};
  ASSERT_THROWS_WITH(canonical_value(items, "dice,lovasz"),
                     "expected items among dice, focal; got 'lovasz'");
  EXPECT_TRUE(is_list(OptionType::kTextList));
  EXPECT_FALSE(is_list(OptionType::kText));
}

TEST(Options, OneTableGivesTheSchemaTheValuesAndTheStruct) {
  const auto& fields = widget_fields();
  const OptionSchema schema = fields.schema();
  ASSERT_EQ(schema.size(), 7u);
  EXPECT_EQ(schema[0].name, "on");
  EXPECT_EQ(schema[0].type, OptionType::kBool);
  EXPECT_EQ(schema[0].default_value, "true");
  EXPECT_EQ(schema[1].type, OptionType::kInt);
  EXPECT_EQ(schema[2].default_value, "0.25");
  EXPECT_EQ(schema[4].type, OptionType::kIntList);
  EXPECT_EQ(schema[4].default_value, "1,2");
  EXPECT_EQ(schema[5].default_value, "");
  EXPECT_EQ(schema[6].choices, (std::vector<std::string>{"red", "green"}));
  EXPECT_EQ(schema[6].default_value, "green");
  // Defaults of another instance (a preset) become its schema's defaults.
  WidgetOptions preset;
  preset.count = 9;
  EXPECT_EQ(fields.schema(preset)[1].default_value, "9");

  const WidgetOptions parsed = fields.parse(
      {{"count", "5"}, {"sizes", "[4, 8]"}, {"colour", "red"}, {"weights", "0.5,1.5"}});
  EXPECT_EQ(parsed.count, 5);
  EXPECT_EQ(parsed.sizes, (std::vector<int64_t>{4, 8}));
  EXPECT_EQ(parsed.weights, (std::vector<double>{0.5, 1.5}));
  EXPECT_EQ(parsed.colour, Colour::kRed);
  EXPECT_DOUBLE_EQ(parsed.ratio, 0.25);  // untouched
  const OptionMap values = fields.values(parsed);
  EXPECT_EQ(values.at("sizes"), "4,8");
  EXPECT_EQ(values.at("colour"), "red");
  const WidgetOptions again = fields.parse(values);
  EXPECT_EQ(fields.values(again), values);

  ASSERT_THROWS_WITH(
      fields.parse({{"cuont", "1"}}, {}, "widget 'w'"),
      "unknown option 'cuont' for widget 'w' (did you mean 'count'?); valid options: on, "
      "count, ratio");
  ASSERT_THROWS_WITH(fields.parse({{"count", "many"}}, {}, "widget 'w'"),
                     "option 'count' of widget 'w': expected an integer, got 'many'");
}

using WidgetRegistry = Registry<std::function<int64_t(const OptionMap&, int64_t)>>;

TEST(Registry, AddsBuildsListsAndNamesWhatIsWrong) {
  WidgetRegistry registry("widget", "widgets");
  registry.add(
      {"counter",
       "counts",
       widget_fields().schema(),
       {},
       [](const OptionMap& o, int64_t offset) { return widget_fields().parse(o).count + offset; },
       [](const OptionMap& o) {
         SVANET_CHECK(widget_fields().parse(o).count >= 0, "count must be >= 0");
       }});
  registry.add({"failing", "always fails", {}, {}, [](const OptionMap&, int64_t) -> int64_t {
                  SVANET_FAIL("no luck");
                }});
  EXPECT_TRUE(registry.contains("counter"));
  EXPECT_EQ(registry.names(), (std::vector<std::string>{"counter", "failing"}));
  EXPECT_EQ(registry.create("counter", {}, 10), 13);  // the default count
  EXPECT_EQ(registry.create("counter", {{"count", "1"}}, 10), 11);
  EXPECT_EQ(registry.resolve("counter", {{"count", "4"}}).at("ratio"), "0.25");
  EXPECT_EQ(registry.resolve("counter", {{"count", "4"}}, false).size(), 1u);
  ASSERT_THROWS_WITH(registry.get("gadget"),
                     "unknown widget 'gadget'; registered widgets: counter, failing");
  ASSERT_THROWS_WITH(registry.create("counter", {{"count", "-1"}}, 0),
                     "widget 'counter': count must be >= 0");
  ASSERT_THROWS_WITH(registry.create("counter", {{"size", "1"}}, 0),
                     "unknown option 'size' for widget 'counter'");
  ASSERT_THROWS_WITH(registry.create("failing", {}, 0), "widget 'failing': no luck");
  ASSERT_THROWS_WITH(
      registry.add(
          {"counter", "again", {}, {}, [](const OptionMap&, int64_t) { return int64_t{0}; }}),
      "a widget named 'counter' is already registered");
  ASSERT_THROWS_WITH(registry.add({"empty", "no factory", {}, {}, nullptr}),
                     "registered without a factory");
  const RegistryBase& any = registry;
  ASSERT_EQ(any.list().size(), 2u);
  EXPECT_EQ(any.list()[0].description, "counts");
  EXPECT_EQ(any.schema("counter").size(), 7u);
}

TEST(Registry, SvanetRegistersEveryKindWithItsOptions) {
  EXPECT_EQ(model_registry().names().size(), 17u);
  EXPECT_EQ(losses::loss_registry().names(),
            (std::vector<std::string>{"cross_entropy", "dice", "dice_ce", "focal", "tversky",
                                      "blob_dice", "compound"}));
  EXPECT_EQ(optim::optimizer_registry().names(),
            (std::vector<std::string>{"adamw", "adam", "sgd"}));
  EXPECT_EQ(optim::schedule_registry().names(),
            (std::vector<std::string>{"official_cosine", "cosine", "poly", "constant"}));
  for (const RegistryBase* registry : std::vector<const RegistryBase*>{
           &model_registry(), &losses::loss_registry(), &optim::optimizer_registry(),
           &optim::schedule_registry()}) {
    for (const auto& entry : registry->list()) {
      SCOPED_TRACE(registry->kind() + " " + entry.name);
      EXPECT_FALSE(entry.description.empty());
      EXPECT_FALSE(entry.schema.empty());
      for (const auto& option : entry.schema) {
        EXPECT_FALSE(option.help.empty()) << option.name;
        // Every default is a valid value of its own type.
        EXPECT_EQ(canonical_value(option, option.default_value), option.default_value)
            << option.name;
      }
    }
  }
}

TEST(Registry, AModelsSchemaShowsItsVariantsDefaults) {
  auto default_of = [](const std::string& model, const std::string& option) {
    return find_option(model_registry().schema(model), option)->default_value;
  };
  EXPECT_EQ(default_of("svanet_r50", "encoder_depth"), "50");
  EXPECT_EQ(default_of("svanet_r18", "encoder_depth"), "18");
  EXPECT_EQ(default_of("deeplabv3_r50", "feature_guide"), "false");
  EXPECT_EQ(default_of("svanet_r50_add_link", "link"), "add");
  EXPECT_EQ(default_of("svanet_r50", "mc_pool_sizes"), "1,2,3");
  EXPECT_EQ(default_of("unet_small", "base_channels"), "16");
  EXPECT_EQ(model_registry().get("svanet_r18_tiny").traits.default_image_size, 256);
  EXPECT_TRUE(model_registry().get("svanet_r50").traits.pretrained_encoder);
  EXPECT_FALSE(model_registry().get("unet").traits.pretrained_encoder);
}

TEST(Registry, OptimizersAndSchedulesAreBuiltByName) {
  auto weight = torch::zeros({2}, torch::requires_grad());
  auto adamw = optim::create_optimizer("adamw", {{"weight_decay", "0.05"}, {"betas", "0.8,0.9"}},
                                       {weight}, 1e-3);
  auto& o = static_cast<torch::optim::AdamWOptions&>(adamw->param_groups()[0].options());
  EXPECT_DOUBLE_EQ(o.weight_decay(), 0.05);
  EXPECT_DOUBLE_EQ(std::get<1>(o.betas()), 0.9);
  EXPECT_DOUBLE_EQ(o.lr(), 1e-3);
  auto sgd = optim::create_optimizer("sgd", {{"nesterov", "true"}}, {weight}, 0.1);
  EXPECT_TRUE(static_cast<torch::optim::SGDOptions&>(sgd->param_groups()[0].options()).nesterov());
  ASSERT_THROWS_WITH(optim::create_optimizer("adamw", {{"betas", "0.9"}}, {weight}, 1e-3),
                     "optimizer 'adamw': betas must be two numbers");
  ASSERT_THROWS_WITH(optim::create_optimizer("lion", {}, {weight}, 1e-3),
                     "unknown optimizer 'lion'; registered optimizers: adamw, adam, sgd");

  const optim::ScheduleOptions paper;
  auto schedule = optim::create_schedule("official_cosine", {});
  for (int64_t epoch = 0; epoch < 100; ++epoch) {
    EXPECT_DOUBLE_EQ(schedule->learning_rate(epoch, 100), optim::learning_rate(paper, epoch, 100));
  }
  EXPECT_EQ(schedule->first_cycle_epochs(100), 10);
  EXPECT_EQ(optim::create_schedule("cosine", {{"milestones", "7"}})->first_cycle_epochs(100), 7);
  ASSERT_THROWS_WITH(optim::create_schedule("poly", {{"power", "0"}}),
                     "schedule 'poly': power must be positive");
}

}  // namespace
}  // namespace svanet::test
