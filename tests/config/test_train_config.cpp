// Training configs: defaults, `--set` overrides, unknown keys, and the
// resolved config written back.

#include "support/test_support.h"

#include "svanet/config/train_config.h"

#include <filesystem>
#include <fstream>

namespace svanet::test {
namespace {

using config::parse_train_config;
namespace fs = std::filesystem;

const char* kConfig = R"(# a small config
model:
  name: svanet_test
  image_size: 64
data:
  root: demo_data
  dataset: demo
  batch_size: 2
  augment: {size: 64, rotation_degrees: 5}
train:
  epochs: 3
  optimizer: {name: adamw, weight_decay: 0.01}
  schedule: {name: cosine, max_lr: 1e-3, warmup_epochs: 1}
  loss: {name: dice_ce, class_weights: [1, 2, 2]}
  freeze_encoder_epochs: 0
  select_metric: dice
evaluate: {overlays: 2}
)";

TEST(TrainConfig, ParsesEverySectionWithDefaultsForTheRest) {
  const auto c = parse_train_config(kConfig, "small.yaml");
  EXPECT_EQ(c.model.name, "svanet_test");
  EXPECT_FALSE(c.num_classes_given);
  EXPECT_EQ(c.data.batch_size, 2);
  EXPECT_EQ(c.data.augment.size, 64);
  EXPECT_DOUBLE_EQ(c.data.augment.rotation_degrees, 5.0);
  EXPECT_DOUBLE_EQ(c.data.augment.hflip, 0.5);  // default
  EXPECT_EQ(c.train.epochs, 3);
  EXPECT_DOUBLE_EQ(c.train.optimizer.get<double>("weight_decay"), 0.01);
  EXPECT_DOUBLE_EQ(c.train.optimizer.get<std::vector<double>>("betas")[1], 0.999);
  EXPECT_EQ(c.train.schedule.name, "cosine");
  EXPECT_EQ(c.train.loss.get<std::vector<double>>("class_weights"), (std::vector<double>{1, 2, 2}));
  EXPECT_EQ(c.train.freeze_encoder_epochs.value_or(-1), 0);
  EXPECT_EQ(c.train.select_metric, "dice");
  EXPECT_EQ(c.evaluate.overlays, 2);
  EXPECT_EQ(c.evaluate.split, "test");
  // The paper's recipe is the default of the train section.
  const auto defaults = parse_train_config("model: {name: svanet_r50}", "d.yaml");
  EXPECT_EQ(defaults.train.epochs, 100);
  EXPECT_EQ(defaults.train.optimizer.name, "adamw");
  EXPECT_DOUBLE_EQ(defaults.train.optimizer.get<double>("weight_decay"), 0.03);
  EXPECT_EQ(defaults.train.schedule.name, "official_cosine");
  EXPECT_EQ(defaults.train.loss.name, "cross_entropy");
  EXPECT_FALSE(defaults.train.freeze_encoder_epochs.has_value());  // first cycle
  EXPECT_EQ(defaults.train.select_metric, "ref_miou");
  EXPECT_FALSE(defaults.train.sync_batchnorm);
  EXPECT_FALSE(defaults.train.check_every.has_value());  // auto
}

TEST(TrainConfig, CheckEveryIsAutoOrAPositiveNumberOfSteps) {
  const auto every = parse_train_config(kConfig, "small.yaml",
                                        {"train.check_every=8", "train.sync_batchnorm=true"});
  EXPECT_EQ(every.train.check_every.value_or(0), 8);
  EXPECT_TRUE(every.train.sync_batchnorm);
  // Written back as it was read.
  const auto again = parse_train_config(config::to_yaml(every), "again.yaml");
  EXPECT_EQ(again.train.check_every.value_or(0), 8);
  EXPECT_TRUE(again.train.sync_batchnorm);
  const auto automatic =
      parse_train_config(config::to_yaml(parse_train_config(kConfig, "small.yaml")), "a.yaml");
  EXPECT_FALSE(automatic.train.check_every.has_value());
  ASSERT_THROWS_WITH(parse_train_config(kConfig, "small.yaml", {"train.check_every=0"}),
                     "train.check_every is auto or a number of steps (at least 1), got '0'");
  ASSERT_THROWS_WITH(parse_train_config(kConfig, "small.yaml", {"train.check_every=often"}),
                     "got 'often'");
}

TEST(TrainConfig, TheEvaluationsMetricKeysAreCheckedAndOldRunConfigsStillLoad) {
  const auto c = parse_train_config(kConfig, "small.yaml",
                                    {"evaluate.match=overlap:3", "evaluate.surface_tolerance=2",
                                     "train.select_metric=object_pq"});
  EXPECT_EQ(c.evaluate.match, "overlap:3");
  EXPECT_EQ(c.evaluate.surface_tolerance.value_or(0), 2.0);
  EXPECT_EQ(c.train.select_metric, "object_pq");
  // Written back as read; defaults: one to one at IoU 0.1, a one-pixel tolerance.
  const auto again = parse_train_config(config::to_yaml(c), "again.yaml");
  EXPECT_EQ(again.evaluate.match, "overlap:3");
  EXPECT_EQ(again.evaluate.surface_tolerance.value_or(0), 2.0);
  const auto defaults = parse_train_config(kConfig, "small.yaml");
  EXPECT_EQ(defaults.evaluate.match, "iou:0.1");
  EXPECT_FALSE(defaults.evaluate.surface_tolerance.has_value());
  EXPECT_EQ(config::to_yaml(defaults).find("iou_threshold"), std::string::npos);
  ASSERT_THROWS_WITH(parse_train_config(kConfig, "small.yaml", {"evaluate.match=iou:0"}),
                     "evaluate.match matching rule 'iou:0': the IoU must be in (0, 1]");
  ASSERT_THROWS_WITH(parse_train_config(kConfig, "small.yaml", {"evaluate.surface_tolerance=-1"}),
                     "evaluate.surface_tolerance is auto or a distance in pixels");
  ASSERT_THROWS_WITH(parse_train_config(kConfig, "small.yaml", {"train.select_metric=dcie"}),
                     "train.select_metric is val_loss or a metric, got 'dcie' (did you mean "
                     "'dice'?)");
  // svanet 0.1 wrote evaluate.iou_threshold: 0 into every run's config.yaml:
  // read (and dropped); any other value names what replaced it.
  EXPECT_EQ(parse_train_config(kConfig, "old.yaml", {"evaluate.iou_threshold=0"}).evaluate.match,
            "iou:0.1");
  EXPECT_EQ(parse_train_config(kConfig, "old.yaml", {"evaluate.iou_threshold=0.0"}).evaluate.match,
            "iou:0.1");
  ASSERT_THROWS_WITH(parse_train_config(kConfig, "old.yaml", {"evaluate.iou_threshold=0.5"}),
                     "evaluate.iou_threshold was replaced by evaluate.match");
}

TEST(TrainConfig, SetOverridesApplyBeforeParsing) {
  const auto c = parse_train_config(
      kConfig, "small.yaml",
      {"train.epochs=7", "model.options.link=add", "data.augment.size=96",
       "train.optimizer.betas=[0.8, 0.95]", "train.freeze_encoder_epochs=first_cycle",
       "model.num_classes=3", "evaluate.object_bins_pct=[1, 2]", "train.device=cpu"});
  EXPECT_EQ(c.train.epochs, 7);
  EXPECT_EQ(c.model.options.overrides().at("link"), "add");
  EXPECT_EQ(c.data.augment.size, 96);
  EXPECT_DOUBLE_EQ(c.train.optimizer.get<std::vector<double>>("betas")[0], 0.8);
  EXPECT_FALSE(c.train.freeze_encoder_epochs.has_value());
  EXPECT_TRUE(c.num_classes_given);
  EXPECT_EQ(c.model.options.num_classes(), 3);
  EXPECT_EQ(c.evaluate.object_bins_pct, (std::vector<double>{1, 2}));
  EXPECT_EQ(c.train.device, "cpu");
  // A whole section can be created by overrides.
  const auto fresh = parse_train_config("model: {name: svanet_test}", "m.yaml",
                                        {"train.loss.name=focal", "data.root=/data/x"});
  EXPECT_EQ(fresh.train.loss.name, "focal");
  EXPECT_EQ(fresh.data.root, "/data/x");
}

TEST(TrainConfig, SetNullRemovesAKeySoItsDefaultApplies) {
  EXPECT_EQ(parse_train_config(kConfig, "small.yaml").train.epochs, 3);
  EXPECT_EQ(parse_train_config(kConfig, "small.yaml", {"train.epochs=null"}).train.epochs, 100);
  EXPECT_EQ(parse_train_config(kConfig, "small.yaml", {"train.epochs="}).train.epochs, 100);
  // A paper preset from scratch: the backbone file its base names is gone.
  const auto fives = data_dir().parent_path().parent_path() / "configs" / "paper" / "fives.yaml";
  EXPECT_EQ(config::load_train_config(fives.string())
                .model.options.overrides()
                .count("pretrained_backbone"),
            1u);
  const auto scratch =
      config::load_train_config(fives.string(), {"model.options.pretrained_backbone=null"});
  EXPECT_EQ(scratch.model.options.overrides().count("pretrained_backbone"), 0u);
  EXPECT_EQ(scratch.model.name, "svanet_r50");
  // A key that is not set anywhere: nothing to remove, and no error.
  EXPECT_EQ(parse_train_config(kConfig, "small.yaml", {"data.workers=null"}).data.workers,
            parse_train_config(kConfig, "small.yaml").data.workers);
}

TEST(TrainConfig, UnknownKeysAreErrorsThatListTheValidOnes) {
  ASSERT_THROWS_WITH(
      parse_train_config("model: {name: svanet_test}\ntrain:\n  epoch: 3\n", "c.yaml"),
      "c.yaml:3:3: unknown key 'train.epoch' (did you mean 'epochs'?); valid keys: epochs");
  ASSERT_THROWS_WITH(
      parse_train_config("model: {name: svanet_test}\ntrain: {schedule: {max: 1}}\n", "c.yaml"),
      "unknown key 'train.schedule.max'");
  ASSERT_THROWS_WITH(parse_train_config("model: {name: svanet_test}\nevaluation: {}\n", "c.yaml"),
                     "c.yaml:2:1: unknown key 'config.evaluation'; valid keys: model, data, train, "
                     "evaluate");
  ASSERT_THROWS_WITH(parse_train_config(kConfig, "small.yaml", {"train.epoch=3"}),
                     "--set 'train.epoch=3': unknown key 'train.epoch' (did you mean 'epochs'?); "
                     "valid keys under 'train': "
                     "epochs, device");
  ASSERT_THROWS_WITH(
      parse_train_config(kConfig, "small.yaml", {"trainer.epochs=3"}),
      "unknown key 'trainer' (did you mean 'train'?); valid keys: model, data, train, "
      "evaluate");
  ASSERT_THROWS_WITH(parse_train_config(kConfig, "small.yaml", {"train.epochs"}),
                     "expected key=value");
  ASSERT_THROWS_WITH(parse_train_config(kConfig, "small.yaml", {"train.epochs.x=1"}),
                     "'train.epochs' is a value, not a section");
  ASSERT_THROWS_WITH(parse_train_config(kConfig, "small.yaml", {"train.optimizer=sgd"}),
                     "'train.optimizer' is a section; set one of its keys: name");
  ASSERT_THROWS_WITH(parse_train_config(kConfig, "small.yaml", {"train.epochs=many"}),
                     "'train.epochs' has an invalid value 'many'");
  ASSERT_THROWS_WITH(parse_train_config(kConfig, "small.yaml", {"model.options.linkk=add"}),
                     "unknown option 'model.options.linkk' for model 'svanet_test'");
  ASSERT_THROWS_WITH(parse_train_config(kConfig, "small.yaml", {"train.precision=fp8"}),
                     "train.precision is fp32, bf16 or fp16, got 'fp8'");
  ASSERT_THROWS_WITH(parse_train_config(kConfig, "small.yaml", {"train.freeze_encoder_epochs=x"}),
                     "freeze_encoder_epochs is first_cycle or a number of epochs, got 'x'");
  ASSERT_THROWS_WITH(parse_train_config(kConfig, "small.yaml", {"train.schedule.name=step"}),
                     "unknown schedule 'step'");
}

TEST(TrainConfig, TheResolvedConfigReadsBackIdentically) {
  auto c =
      parse_train_config(kConfig, "small.yaml",
                         {"model.options.mc_pool_sizes=[1, 2]", "train.schedule.min_lr=1e-7",
                          "data.normalization={mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.5]}"});
  const std::string yaml = config::to_yaml(c);
  const auto again = parse_train_config(yaml, "config.yaml");
  EXPECT_EQ(config::to_yaml(again), yaml);
  EXPECT_EQ(again.model.options.overrides().at("mc_pool_sizes"), "1,2");
  EXPECT_DOUBLE_EQ(again.train.schedule.get<double>("min_lr"), 1e-7);
  EXPECT_EQ(again.data.normalization.mode, "custom");
  EXPECT_DOUBLE_EQ(again.data.normalization.std[2], 0.5);
  EXPECT_EQ(again.train.loss.options.at("class_weights"), c.train.loss.options.at("class_weights"));
  EXPECT_EQ(again.data.dataset, "demo");
  EXPECT_NE(yaml.find("freeze_encoder_epochs: 0"), std::string::npos) << yaml;
}

TEST(TrainConfig, ABaseConfigIsMergedUnderTheFile) {
  TempDir dir;
  std::ofstream(dir.path() / "recipe.yaml") << "train:\n  epochs: 100\n  optimizer: {name: adamw, "
                                               "weight_decay: 0.03}\n  repeats: 3\n";
  fs::create_directories(dir.path() / "sets");
  std::ofstream(dir.path() / "sets" / "fives.yaml")
      << "base: ../recipe.yaml\nmodel: {name: svanet_test}\ndata: {dataset: fives}\n"
         "train:\n  optimizer: {weight_decay: 0.05}\n";
  const auto c =
      config::load_train_config((dir.path() / "sets" / "fives.yaml").string(), {"train.repeats=1"});
  EXPECT_EQ(c.train.epochs, 100);                                         // from the base
  EXPECT_EQ(c.train.optimizer.name, "adamw");                             // merged section
  EXPECT_DOUBLE_EQ(c.train.optimizer.get<double>("weight_decay"), 0.05);  // the file wins
  EXPECT_EQ(c.train.repeats, 1);                                          // --set wins over both
  EXPECT_EQ(c.data.dataset, "fives");
  std::ofstream(dir.path() / "bad_base.yaml") << "train: {epoch: 3}\n";
  std::ofstream(dir.path() / "child.yaml") << "base: bad_base.yaml\nmodel: {name: svanet_test}\n";
  ASSERT_THROWS_WITH(config::load_train_config((dir.path() / "child.yaml").string()),
                     "bad_base.yaml:1:9: unknown key 'train.epoch'");
  // A base of a base, relative to each file: the chain merges oldest first.
  std::ofstream(dir.path() / "sets" / "ablation.yaml")
      << "base: fives.yaml\nmodel: {options: {link: add}}\n";
  std::ofstream(dir.path() / "deeper.yaml") << "base: sets/ablation.yaml\ntrain: {epochs: 7}\n";
  const auto chained = config::load_train_config((dir.path() / "deeper.yaml").string());
  EXPECT_EQ(chained.train.epochs, 7);
  EXPECT_EQ(chained.train.repeats, 3);
  EXPECT_DOUBLE_EQ(chained.train.optimizer.get<double>("weight_decay"), 0.05);
  EXPECT_EQ(chained.model.options.overrides().at("link"), "add");
  std::ofstream(dir.path() / "sets" / "bad_middle.yaml") << "base: ../recipe.yaml\nbase_lr: 3\n";
  std::ofstream(dir.path() / "on_bad.yaml") << "base: sets/bad_middle.yaml\n";
  ASSERT_THROWS_WITH(config::load_train_config((dir.path() / "on_bad.yaml").string()),
                     "bad_middle.yaml:2:1: unknown key 'config.base_lr'");
  std::ofstream(dir.path() / "loop.yaml") << "base: loop.yaml\n";
  ASSERT_THROWS_WITH(config::load_train_config((dir.path() / "loop.yaml").string()),
                     "includes itself");
  std::ofstream(dir.path() / "lost.yaml") << "base: nowhere.yaml\n";
  ASSERT_THROWS_WITH(config::load_train_config((dir.path() / "lost.yaml").string()),
                     "nowhere.yaml does not exist");
}

TEST(TrainConfig, ThePaperPresetsAreTheOfficialRecipe) {
  const auto configs = data_dir().parent_path().parent_path() / "configs";
  int count = 0;
  for (const auto& entry : fs::directory_iterator(configs / "paper")) {
    const auto name = entry.path().filename().string();
    if (entry.path().extension() != ".yaml" || name[0] == '_') continue;
    SCOPED_TRACE(name);
    const auto c = config::load_train_config(entry.path().string());
    EXPECT_EQ(c.data.dataset, entry.path().stem().string());
    EXPECT_EQ(c.model.name, "svanet_r50");
    EXPECT_EQ(c.model.options.image_size(), 512);
    EXPECT_EQ(c.data.normalization.mode, "reference");
    EXPECT_EQ(c.data.batch_size, 4);
    EXPECT_EQ(c.data.augment.size, 512);
    EXPECT_EQ(c.train.epochs, 100);
    EXPECT_EQ(c.train.repeats, 3);
    EXPECT_EQ(c.train.optimizer.name, "adamw");
    EXPECT_DOUBLE_EQ(c.train.optimizer.get<double>("weight_decay"), 0.03);
    EXPECT_EQ(c.train.schedule.name, "official_cosine");
    EXPECT_DOUBLE_EQ(c.train.schedule.get<double>("min_lr"), 1e-6);
    EXPECT_DOUBLE_EQ(c.train.schedule.get<double>("warmup_init_lr"), 5e-5);
    EXPECT_DOUBLE_EQ(c.train.schedule.get<double>("max_lr"), 5e-4);
    EXPECT_TRUE(c.train.schedule.get<bool>("restart"));
    EXPECT_EQ(c.train.loss.name, "cross_entropy");
    EXPECT_FALSE(c.train.freeze_encoder_epochs.has_value());
    EXPECT_FALSE(c.train.fix_norm_statistics);
    EXPECT_EQ(c.train.select_metric, "ref_miou");
    ++count;
  }
  EXPECT_EQ(count, 7);
  const auto demo = config::load_train_config((configs / "demo.yaml").string());
  EXPECT_EQ(demo.data.dataset, "demo");
  EXPECT_EQ(demo.model.name, "svanet_r18_tiny_fr");
  EXPECT_EQ(demo.evaluate.threshold, "calibrated");
  // The study's reference row is the demo recipe without the small-object
  // features; the light ablation starts from it.
  for (const char* file : {"small_objects/baseline.yaml", "ablation/light/full.yaml"}) {
    const auto plain = config::load_train_config((configs / file).string());
    EXPECT_EQ(plain.model.name, "svanet_r18_tiny") << file;
    EXPECT_EQ(plain.train.loss.name, "dice_ce") << file;
    EXPECT_EQ(plain.evaluate.threshold, "argmax") << file;
    EXPECT_EQ(plain.data.augment.sampling.object_share, 0.0) << file;
    const bool light = std::string(file).find("light") != std::string::npos;
    EXPECT_EQ(plain.train.epochs, light ? 12 : demo.train.epochs) << file;
  }
  // Every row of the small-object study loads; the winner is the demo's recipe.
  int rows = 0;
  for (const auto& entry : std::filesystem::directory_iterator(configs / "small_objects")) {
    SCOPED_TRACE(entry.path().string());
    const auto c = config::load_train_config(entry.path().string());
    EXPECT_EQ(c.train.repeats, 2);
    EXPECT_EQ(c.train.epochs, demo.train.epochs);
    ++rows;
  }
  EXPECT_EQ(rows, 6);
  const auto winner =
      config::load_train_config((configs / "small_objects" / "blob_head_calibrated.yaml").string());
  EXPECT_EQ(winner.model.name, demo.model.name);
  EXPECT_EQ(winner.train.loss.name, demo.train.loss.name);
  EXPECT_EQ(winner.evaluate.threshold, demo.evaluate.threshold);
  EXPECT_EQ(winner.data.augment.sampling.object_share, demo.data.augment.sampling.object_share);
}

}  // namespace
}  // namespace svanet::test
