// summary.json and the metric registry: the file against its documented
// schema, a round trip, svanet 0.1's files, and a metric registered from
// outside the library reaching summary.json, the report, study and compare.

#include "support/schema_check.h"
#include "support/test_support.h"

#include "svanet/data/image_io.h"
#include "svanet/engine/evaluate.h"
#include "svanet/evaluation/compare.h"
#include "svanet/evaluation/study.h"
#include "svanet/evaluation/summary.h"
#include "svanet/metrics/evaluator.h"
#include "svanet/metrics/registry.h"
#include "svanet/utils/atomic_file.h"

#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>

namespace svanet::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

bool same_value(double a, double b) {
  return (std::isnan(a) && std::isnan(b)) || a == b;
}

/// Random blobs on a few cases, two foreground classes, some ignored pixels.
metrics::Summary random_summary() {
  torch::manual_seed(7);
  metrics::MetricOptions options;
  options.num_classes = 3;
  options.class_names = {"background", "lesion", "nucleus"};
  metrics::Evaluator evaluator(options);
  for (int i = 0; i < 6; ++i) {
    // Blocks of 4 x 4 pixels, so that objects have a few pixels each.
    auto gt = torch::randint(0, 3, {12, 12}, torch::kByte).repeat_interleave(4, 0);
    gt = gt.repeat_interleave(4, 1).contiguous();
    gt.masked_fill_(torch::rand({48, 48}) > 0.6, 0);
    auto pred = gt.clone();
    pred.masked_fill_(torch::rand({48, 48}) > 0.8, 1);
    if (i == 2) gt.masked_fill_(torch::rand({48, 48}) > 0.97, 255);
    evaluator.add("case" + std::to_string(i), pred, gt);
  }
  return evaluator.aggregate();
}

json schema() {
  return json::parse(
      utils::read_file(std::string(SVANET_SOURCE_DIR) + "/docs/summary.schema.json"));
}

TEST(SummaryJson, ConformsToItsSchemaAndReadsBackTheSameNumbers) {
  const auto summary = random_summary();
  const std::string text = evaluation::summary_to_json(summary);
  const auto errors = schema_errors(schema(), json::parse(text));
  EXPECT_TRUE(errors.empty()) << utils::join(errors, "\n");
  const auto back = evaluation::summary_from_json(text, "summary.json");
  // Every registered metric reads back as it was written.
  const auto a = metrics::headline(summary), b = metrics::headline(back);
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [name, value] : a) {
    EXPECT_TRUE(same_value(value, b.at(name))) << name << ": " << value << " vs " << b.at(name);
  }
  EXPECT_EQ(back.cases, summary.cases);
  EXPECT_EQ(back.match(), "iou:0.1");
  EXPECT_EQ(back.options.class_names, summary.options.class_names);
  ASSERT_EQ(back.objects.size(), summary.objects.size());
  for (size_t i = 0; i < back.objects.size(); ++i) {
    EXPECT_EQ(back.objects[i].label, summary.objects[i].label);
    EXPECT_EQ(back.objects[i].gt_objects, summary.objects[i].gt_objects);
    EXPECT_EQ(back.objects[i].true_positives, summary.objects[i].true_positives);
    EXPECT_DOUBLE_EQ(back.objects[i].iou_sum, summary.objects[i].iou_sum);
    EXPECT_EQ(back.objects[i].upper, summary.objects[i].upper);
  }
  ASSERT_EQ(back.size_bins.size(), summary.size_bins.size());
  const auto& dice = metrics::metric("dice");
  for (size_t i = 0; i < back.size_bins.size(); ++i) {
    EXPECT_TRUE(same_value(metrics::metric_value(dice, back.size_bins[i]),
                           metrics::metric_value(dice, summary.size_bins[i])));
    EXPECT_EQ(back.size_bins[i].upper, summary.size_bins[i].upper);
  }
  // Written again, the file is the same.
  EXPECT_EQ(evaluation::summary_to_json(back), text);
  // The check itself fails on a file that breaks the schema.
  auto broken = json::parse(text);
  broken["headline"]["dice"] = "high";
  broken.erase("objects");
  EXPECT_EQ(schema_errors(schema(), broken).size(), 2u);
}

TEST(SummaryJson, ReadsTheFilesOfSvanet01) {
  // Written by svanet 0.1 (`svanet evaluate --pred --gt`, any-overlap rule).
  const auto path = data_dir() / "evaluation" / "summary_v1.json";
  const auto old = json::parse(utils::read_file(path.string()));
  const auto s = evaluation::read_summary(path.string());
  EXPECT_EQ(s.match(), "overlap");
  // Its reference metrics were x 100.
  EXPECT_NEAR(s.reference.miou, old["reference"]["mIoU"].get<double>() / 100.0, 1e-15);
  EXPECT_NEAR(metrics::headline(s).at("ref_mdice"),
              old["headline"]["ref_mdice"].get<double>() / 100, 1e-15);
  EXPECT_DOUBLE_EQ(metrics::headline(s).at("ref_mae"), old["headline"]["ref_mae"].get<double>());
  EXPECT_DOUBLE_EQ(metrics::headline(s).at("dice"), old["headline"]["dice"].get<double>());
  // Object counts, and the metrics they give, are those it wrote.
  const auto h = metrics::headline(s);
  for (const char* name : {"object_recall", "object_precision", "object_f1", "object_dice"}) {
    EXPECT_NEAR(h.at(name), old["headline"][name].get<double>(), 1e-12) << name;
  }
  // A metric it did not keep is undefined, not made up.
  ASSERT_NE(metrics::all_objects(s), nullptr);
  EXPECT_TRUE(std::isnan(metrics::all_objects(s)->iou_sum));
  EXPECT_TRUE(std::isnan(h.at("object_pq")));
  EXPECT_TRUE(std::isnan(h.at("nsd")));
  // With an IoU threshold, svanet 0.1 matched by a rule this svanet lacks:
  // the rule is named as such.
  auto strict = old;
  strict["options"]["match_iou_threshold"] = 0.5;
  const auto legacy = evaluation::summary_from_json(strict.dump(), "strict.json");
  EXPECT_EQ(legacy.match(), "union-iou:0.5");
  // Converted files are written as version 2 and read back the same, their
  // rule and the IoU they lack included.
  for (const auto* converted : {&s, &legacy}) {
    const std::string text = evaluation::summary_to_json(*converted);
    const auto errors = schema_errors(schema(), json::parse(text));
    EXPECT_TRUE(errors.empty()) << utils::join(errors, "\n");
    const auto again = evaluation::summary_from_json(text, "again.json");
    EXPECT_EQ(again.match(), converted->match());
    EXPECT_TRUE(std::isnan(metrics::all_objects(again)->iou_sum));
    EXPECT_EQ(evaluation::summary_to_json(again), text);
  }
}

TEST(SummaryJson, TheAnyOverlapRuleReproducesSvanet01sObjectCounts) {
  // The fixture's masks (tests/data/evaluation/README.md), evaluated again
  // by name with svanet 0.1's rule: the same objects, found and missed.
  TempDir dir;
  const auto masks = data_dir() / "evaluation" / "v1_masks";
  const auto pred = dir.path() / "pred";
  fs::create_directories(pred);
  for (int k = 0; k < 8; ++k) {
    const int from = k == 3 ? 3 : (k + 1) % 8;
    fs::copy_file(masks / ("demo_000" + std::to_string(from) + ".png"),
                  pred / ("demo_000" + std::to_string(k) + ".png"));
  }
  engine::FolderEvaluateOptions o;
  o.pred_dir = pred.string();
  o.gt_dir = masks.string();
  o.out = (dir.path() / "eval").string();
  o.dataset = "demo";
  o.overlays = 0;
  o.metrics.match = metrics::MatchRule::parse("overlap");
  const auto now = engine::evaluate_folders(o).summary;
  const auto old =
      evaluation::read_summary((data_dir() / "evaluation" / "summary_v1.json").string());
  ASSERT_EQ(now.objects.size(), old.objects.size());
  for (size_t i = 0; i < now.objects.size(); ++i) {
    SCOPED_TRACE(now.objects[i].class_name + " " + now.objects[i].label);
    EXPECT_EQ(now.objects[i].gt_objects, old.objects[i].gt_objects);
    EXPECT_EQ(now.objects[i].detected, old.objects[i].detected);
    EXPECT_EQ(now.objects[i].predicted, old.objects[i].predicted);
    EXPECT_EQ(now.objects[i].false_positives, old.objects[i].false_positives);
    EXPECT_NEAR(now.objects[i].dice_sum, old.objects[i].dice_sum, 1e-9);
  }
  const auto a = metrics::headline(now), b = metrics::headline(old);
  for (const char* name : {"dice", "hd95", "ref_miou", "ref_mem", "ref_mae", "object_f1"}) {
    EXPECT_NEAR(a.at(name), b.at(name), 1e-12) << name;
  }
  // The default rule counts fewer of them found: one to one, at IoU 0.1.
  o.metrics.match = metrics::MatchRule{};
  o.out = (dir.path() / "eval_iou").string();
  const auto strict = engine::evaluate_folders(o).summary;
  EXPECT_LE(metrics::all_objects(strict)->detected, metrics::all_objects(old)->detected);
}

TEST(SummaryJson, ANewerOrDamagedFileIsNamedWithTheEntry) {
  auto j = json::parse(evaluation::summary_to_json(random_summary()));
  j["version"] = 3;
  ASSERT_THROWS_WITH(evaluation::summary_from_json(j.dump(), "eval/summary.json"),
                     "eval/summary.json: summary version 3 is not supported");
  j["version"] = "two";
  ASSERT_THROWS_WITH(evaluation::summary_from_json(j.dump(), "eval/summary.json"),
                     "eval/summary.json: 'version' must be a whole number, got \"two\"");
  j["version"] = 2;
  j.erase("size_bins");
  ASSERT_THROWS_WITH(evaluation::summary_from_json(j.dump(), "eval/summary.json"),
                     "eval/summary.json: not an svanet evaluation summary ('size_bins'");
  ASSERT_THROWS_WITH(evaluation::summary_from_json("{", "eval/summary.json"),
                     "eval/summary.json: not JSON");
}

TEST(MetricRegistry, RefusesAnEntryWithoutItsFunctionOrLabel) {
  metrics::Metric m;
  m.name = "test_unlabelled";
  m.traits.scope = metrics::MetricScope::kCase;
  m.factory.per_case = [](const metrics::ClassRecord&) { return 0.0; };
  ASSERT_THROWS_WITH(metrics::register_metric(m),
                     "'test_unlabelled' is registered without a label");
  m.traits.label = "unlabelled";
  m.traits.scope = metrics::MetricScope::kObjects;
  ASSERT_THROWS_WITH(metrics::register_metric(m),
                     "'test_unlabelled' is registered with the objects scope but without its "
                     "function");
  ASSERT_THROWS_WITH(metrics::metric("dcie"), "unknown metric 'dcie' (did you mean 'dice'?)");
}

/// Writes the drawn masks of a small evaluation: three 32 x 32 cases.
void write_masks(const fs::path& pred, const fs::path& gt) {
  fs::create_directories(pred);
  fs::create_directories(gt);
  for (int i = 0; i < 3; ++i) {
    auto g = torch::zeros({32, 32}, torch::kByte);
    g.slice(0, 4, 10).slice(1, 4, 10).fill_(1);
    g.slice(0, 20, 22).slice(1, 20 + i, 22 + i).fill_(1);
    auto p = g.clone();
    p.slice(0, 4, 10).slice(1, 8, 12).fill_(1);
    if (i == 1) p.slice(0, 20, 22).fill_(0);
    data::write_mask_png((gt / ("case" + std::to_string(i) + ".png")).string(), g);
    data::write_mask_png((pred / ("case" + std::to_string(i) + ".png")).string(), p);
  }
}

TEST(MetricRegistry, AMetricRegisteredOutsideTheLibraryReachesSummaryReportStudyAndCompare) {
  // Balanced accuracy, the mean of recall and specificity, per case.
  metrics::Metric m;
  m.name = "test_balanced_accuracy";
  m.description = "the mean of recall and specificity per case and class";
  m.traits.scope = metrics::MetricScope::kCase;
  m.traits.label = "balanced accuracy";
  m.traits.featured = true;
  m.traits.reference = "Brodersen et al., ICPR 2010";
  m.factory.per_case = [](const metrics::ClassRecord& r) {
    return (metrics::recall(r.counts) + metrics::specificity(r.counts)) / 2.0;
  };
  metrics::register_metric(m);
  TempDir dir;
  write_masks(dir.path() / "pred", dir.path() / "gt");
  engine::FolderEvaluateOptions o;
  o.pred_dir = (dir.path() / "pred").string();
  o.gt_dir = (dir.path() / "gt").string();
  o.out = (dir.path() / "eval").string();
  o.classes = {"background", "lesion"};
  const auto result = engine::evaluate_folders(o);
  const double value = metrics::headline(result.summary).at("test_balanced_accuracy");
  EXPECT_GT(value, 0.5);
  EXPECT_LT(value, 1.0);
  // summary.json: described, in the headline and per class, and valid.
  const auto j = json::parse(utils::read_file((dir.path() / "eval" / "summary.json").string()));
  EXPECT_EQ(j["metrics"]["test_balanced_accuracy"]["label"], "balanced accuracy");
  EXPECT_EQ(j["metrics"]["test_balanced_accuracy"]["scope"], "case");
  EXPECT_DOUBLE_EQ(j["headline"]["test_balanced_accuracy"].get<double>(), value);
  EXPECT_TRUE(j["per_class"][0].contains("test_balanced_accuracy"));
  const auto errors = schema_errors(schema(), j);
  EXPECT_TRUE(errors.empty()) << utils::join(errors, "\n");
  // The report: a card (it is featured), a per-class column and its row.
  const std::string report = utils::read_file((dir.path() / "eval" / "report.html").string());
  const std::string text = metrics::format_metric(metrics::metric("test_balanced_accuracy"), value);
  EXPECT_NE(report.find("<div class=card><div class=v>" + text +
                        "</div><div class=k>balanced accuracy</div></div>"),
            std::string::npos);
  EXPECT_NE(report.find("<td>test_balanced_accuracy</td><td>" + text + "</td>"), std::string::npos);
  EXPECT_NE(report.find("Brodersen et al., ICPR 2010"), std::string::npos);
  // per_case.csv has its column.
  EXPECT_NE(utils::read_file((dir.path() / "eval" / "per_case.csv").string())
                .find(",test_balanced_accuracy,"),
            std::string::npos);
  // svanet study: a column of the overall table, in the CSV to the last digit.
  evaluation::StudyOptions so;
  so.model_cost = false;
  const auto study =
      evaluation::make_study({{"eval", {(dir.path() / "eval" / "summary.json").string()}}}, so);
  EXPECT_NE(study.markdown().find("balanced accuracy"), std::string::npos);
  EXPECT_NE(study.csv().find("test_balanced_accuracy_mean"), std::string::npos);
  EXPECT_NE(study.csv().find(utils::format_number(value)), std::string::npos);
  // svanet compare: among the default (featured) columns.
  const auto table =
      evaluation::compare({{"eval", {(dir.path() / "eval" / "summary.json").string()}}},
                          evaluation::default_compare_metrics());
  EXPECT_NE(table.markdown.find("test_balanced_accuracy"), std::string::npos);
  EXPECT_NE(table.markdown.find(text), std::string::npos);
}

}  // namespace
}  // namespace svanet::test
