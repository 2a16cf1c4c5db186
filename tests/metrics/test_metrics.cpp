// The metric core: hand-worked 4x4 cases, empty-mask rules, surface
// distances and the distance transform against brute force, reference mode
// against its formulas, per-object matching on drawn shapes, size-bin edges.

#include "support/test_support.h"

#include "svanet/metrics/evaluator.h"
#include "svanet/metrics/objects.h"
#include "svanet/metrics/registry.h"
#include "svanet/utils/components.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>

namespace svanet::test {
namespace {

using metrics::CaseRecord;
using metrics::MetricOptions;

torch::Tensor grid(std::vector<std::vector<int>> rows) {
  const auto h = static_cast<int64_t>(rows.size()), w = static_cast<int64_t>(rows[0].size());
  auto t = torch::zeros({h, w}, torch::kByte);
  for (int64_t r = 0; r < h; ++r) {
    for (int64_t c = 0; c < w; ++c) t[r][c] = rows[static_cast<size_t>(r)][static_cast<size_t>(c)];
  }
  return t;
}

// The worked example: ground truth a 2x2 square, prediction an L covering
// three of its pixels plus one outside.
torch::Tensor example_gt() {
  return grid({{0, 0, 0, 0}, {0, 1, 1, 0}, {0, 1, 1, 0}, {0, 0, 0, 0}});
}
torch::Tensor example_pred() {
  return grid({{0, 0, 0, 0}, {0, 1, 1, 1}, {0, 0, 1, 0}, {0, 0, 0, 0}});
}

TEST(Metrics, CountsAndRatiosOnAWorkedFourByFour) {
  const auto counts = metrics::class_counts(example_pred(), example_gt(), 2);
  ASSERT_EQ(counts.size(), 2u);
  EXPECT_EQ(counts[1], (metrics::Counts{3, 1, 1, 11}));
  EXPECT_EQ(counts[0], (metrics::Counts{11, 1, 1, 3}));
  const auto& c = counts[1];
  EXPECT_DOUBLE_EQ(metrics::dice(c), 6.0 / 8.0);
  EXPECT_DOUBLE_EQ(metrics::iou(c), 3.0 / 5.0);
  EXPECT_DOUBLE_EQ(metrics::precision(c), 3.0 / 4.0);
  EXPECT_DOUBLE_EQ(metrics::recall(c), 3.0 / 4.0);
  EXPECT_DOUBLE_EQ(metrics::f_beta(c, 2.0), 15.0 / 20.0);
  EXPECT_DOUBLE_EQ(metrics::specificity(c), 11.0 / 12.0);
  // F2 weighs recall: a prediction covering everything has high F2, low precision.
  const metrics::Counts wide{4, 12, 0, 0};
  EXPECT_DOUBLE_EQ(metrics::f_beta(wide, 2.0), 20.0 / 32.0);
}

TEST(Metrics, IgnoredPixelsAreNeverCounted) {
  auto gt = example_gt();
  gt[1][3] = 255;  // the false-positive pixel is unlabelled
  const auto counts = metrics::class_counts(example_pred(), gt, 2);
  EXPECT_EQ(counts[1], (metrics::Counts{3, 0, 1, 11}));
  EXPECT_EQ(counts[1].total(), 15);
}

TEST(Metrics, SurfaceDistancesOnTheWorkedExample) {
  // Every pixel of both regions is a boundary pixel. Pred -> gt: 0, 0, 0 and
  // 1 (the outside pixel); gt -> pred: 0, 0, 0 and 1. P95 of {0, 0, 0, 1}
  // interpolates at rank 2.85: 0.85.
  const auto d = metrics::surface_distance(example_pred(), example_gt());
  EXPECT_NEAR(d.hd95, 0.85, 1e-12);
  EXPECT_NEAR(d.assd, 2.0 / 8.0, 1e-12);
  EXPECT_NEAR(d.hausdorff, 1.0, 1e-12);
  // In mm with 0.5 mm rows and 2 mm columns: the outside pixel (1, 3) is
  // 2 mm from (1, 2); the missed pixel (2, 1) is 0.5 mm from (1, 1).
  const auto mm = metrics::surface_distance(example_pred(), example_gt(), {0.5, 2.0});
  EXPECT_NEAR(mm.hausdorff, 2.0, 1e-12);
  EXPECT_NEAR(mm.assd, (2.0 + 0.5) / 8.0, 1e-12);
}

TEST(Metrics, EmptyMaskRules) {
  const auto empty = torch::zeros({4, 4}, torch::kByte);
  const double diagonal = std::hypot(4.0, 4.0);
  // Both empty: undefined, excluded from means.
  auto both = metrics::surface_distance(empty, empty);
  EXPECT_TRUE(std::isnan(both.hd95));
  EXPECT_TRUE(std::isnan(both.assd));
  EXPECT_TRUE(std::isnan(metrics::dice(metrics::Counts{0, 0, 0, 16})));
  // A missed object and a false alarm: the worst case, not NaN.
  auto missed = metrics::surface_distance(empty, example_gt());
  EXPECT_DOUBLE_EQ(missed.hd95, diagonal);
  EXPECT_DOUBLE_EQ(missed.assd, diagonal);
  auto alarm = metrics::surface_distance(example_pred(), empty);
  EXPECT_DOUBLE_EQ(alarm.hd95, diagonal);
  const metrics::Counts missed_counts{0, 0, 4, 12}, alarm_counts{0, 4, 0, 12};
  EXPECT_DOUBLE_EQ(metrics::dice(missed_counts), 0.0);
  EXPECT_DOUBLE_EQ(metrics::recall(missed_counts), 0.0);
  EXPECT_TRUE(std::isnan(metrics::precision(missed_counts)));  // nothing predicted
  EXPECT_DOUBLE_EQ(metrics::dice(alarm_counts), 0.0);
  EXPECT_DOUBLE_EQ(metrics::precision(alarm_counts), 0.0);
  EXPECT_TRUE(std::isnan(metrics::recall(alarm_counts)));  // nothing to find

  // Through the evaluator: a case with neither prediction nor ground truth
  // of the class is left out of the class means; a false alarm counts 0.
  MetricOptions options;
  metrics::Evaluator evaluator(options);
  evaluator.add("empty", empty, empty);
  evaluator.add("alarm", example_pred(), empty);
  evaluator.add("hit", example_gt(), example_gt());
  const auto summary = evaluator.aggregate();
  const auto& fg = summary.per_class.classes.at(0);
  EXPECT_EQ(fg.stat("dice").n, 2);
  EXPECT_DOUBLE_EQ(fg.stat("dice").mean, 0.5);
  EXPECT_EQ(fg.stat("hd95").n, 2);
  EXPECT_DOUBLE_EQ(fg.stat("hd95").mean, diagonal / 2.0);
  EXPECT_EQ(fg.stat("recall").n, 1);
  EXPECT_EQ(fg.cases_with_class, 1);
}

// Brute force: boundary pixels and the distances between them.
std::vector<std::array<int, 2>> boundary_pixels(const torch::Tensor& m) {
  std::vector<std::array<int, 2>> out;
  const auto a = m.accessor<uint8_t, 2>();
  const int h = static_cast<int>(m.size(0)), w = static_cast<int>(m.size(1));
  for (int r = 0; r < h; ++r) {
    for (int c = 0; c < w; ++c) {
      if (a[r][c] == 0) continue;
      bool edge = r == 0 || c == 0 || r == h - 1 || c == w - 1;
      if (!edge)
        edge = a[r - 1][c] == 0 || a[r + 1][c] == 0 || a[r][c - 1] == 0 || a[r][c + 1] == 0;
      if (edge) out.push_back({r, c});
    }
  }
  return out;
}

std::vector<double> directed(const std::vector<std::array<int, 2>>& from,
                             const std::vector<std::array<int, 2>>& to, const metrics::Spacing& s) {
  std::vector<double> d;
  for (const auto& a : from) {
    double best = INFINITY;
    for (const auto& b : to) {
      best = std::min(best, std::hypot((a[0] - b[0]) * s[0], (a[1] - b[1]) * s[1]));
    }
    d.push_back(best);
  }
  return d;
}

double numpy_percentile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  const double rank = q * static_cast<double>(v.size() - 1);
  const auto lo = static_cast<size_t>(std::floor(rank));
  const size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (rank - static_cast<double>(lo)) * (v[hi] - v[lo]);
}

TEST(Metrics, SurfaceDistancesMatchBruteForceOnRandomMasks) {
  torch::manual_seed(3);
  for (int trial = 0; trial < 12; ++trial) {
    const metrics::Spacing spacing =
        trial % 2 == 0 ? metrics::Spacing{1.0, 1.0} : metrics::Spacing{0.7, 1.9};
    // Blobby random masks: smoothed noise thresholded.
    auto noise = [&] {
      auto x = torch::rand({1, 1, 24, 31});
      x = torch::avg_pool2d(x, 5, 1, 2);
      return (x.squeeze() > 0.52).to(torch::kByte);
    };
    const auto pred = noise(), gt = noise();
    if (pred.sum().item<int64_t>() == 0 || gt.sum().item<int64_t>() == 0) continue;
    const auto bp = boundary_pixels(pred), bg = boundary_pixels(gt);
    const auto pg = directed(bp, bg, spacing), gp = directed(bg, bp, spacing);
    double sum = 0.0;
    for (double v : pg) sum += v;
    for (double v : gp) sum += v;
    const auto d = metrics::surface_distance(pred, gt, spacing);
    EXPECT_NEAR(d.hd95, std::max(numpy_percentile(pg, 0.95), numpy_percentile(gp, 0.95)), 1e-9);
    EXPECT_NEAR(d.assd, sum / static_cast<double>(pg.size() + gp.size()), 1e-9);
    EXPECT_NEAR(
        d.hausdorff,
        std::max(*std::max_element(pg.begin(), pg.end()), *std::max_element(gp.begin(), gp.end())),
        1e-9);
    // The surface Dice at a few tolerances: boundary pixels within reach.
    for (const double t : {0.0, 1.0, 1.5, 3.0}) {
      double within = 0;
      for (double v : pg) within += v <= t + 1e-9 ? 1 : 0;
      for (double v : gp) within += v <= t + 1e-9 ? 1 : 0;
      EXPECT_DOUBLE_EQ(metrics::surface_distance(pred, gt, spacing, t).surface_dice,
                       within / static_cast<double>(pg.size() + gp.size()))
          << "tolerance " << t << ", trial " << trial;
    }
  }
}

TEST(Metrics, SurfaceDiceOnTheWorkedExample) {
  // Boundary distances pred -> gt {0, 0, 0, 1} and gt -> pred {0, 0, 0, 1}.
  EXPECT_DOUBLE_EQ(metrics::surface_distance(example_pred(), example_gt()).surface_dice, 1.0);
  EXPECT_DOUBLE_EQ(
      metrics::surface_distance(example_pred(), example_gt(), {1.0, 1.0}, 0.5).surface_dice,
      6.0 / 8.0);
  // In mm (0.5 mm rows, 2 mm columns): {0, 0, 0, 2} and {0, 0, 0, 0.5}.
  EXPECT_DOUBLE_EQ(
      metrics::surface_distance(example_pred(), example_gt(), {0.5, 2.0}, 1.0).surface_dice,
      7.0 / 8.0);
  // Empty: undefined when both are, 0 for a miss or a false alarm.
  const auto empty = torch::zeros({4, 4}, torch::kByte);
  EXPECT_TRUE(std::isnan(metrics::surface_distance(empty, empty).surface_dice));
  EXPECT_DOUBLE_EQ(metrics::surface_distance(empty, example_gt()).surface_dice, 0.0);
  EXPECT_DOUBLE_EQ(metrics::surface_distance(example_pred(), empty).surface_dice, 0.0);
  // Through the evaluator: the default tolerance is one pixel, or the
  // larger spacing.
  MetricOptions options;
  metrics::Evaluator evaluator(options);
  evaluator.add("x", example_pred(), example_gt());
  EXPECT_DOUBLE_EQ(evaluator.aggregate().per_class.mean.stat("nsd").mean, 1.0);
  options.spacing = {0.5, 2.0};
  EXPECT_DOUBLE_EQ(options.tolerance(), 2.0);
  options.surface_tolerance = 0.5;
  metrics::Evaluator strict(options);
  strict.add("x", example_pred(), example_gt());
  EXPECT_DOUBLE_EQ(strict.aggregate().per_class.mean.stat("nsd").mean, 7.0 / 8.0);
}

TEST(Metrics, DistanceTransformIsExactWithAnisotropicSpacing) {
  torch::manual_seed(5);
  const auto mask = (torch::rand({13, 17}) > 0.93).to(torch::kByte);
  mask[0][0] = 1;
  const metrics::Spacing spacing{1.3, 0.6};
  const auto d = metrics::distance_transform(mask, spacing);
  const auto m = mask.accessor<uint8_t, 2>();
  for (int r = 0; r < 13; ++r) {
    for (int c = 0; c < 17; ++c) {
      double best = INFINITY;
      for (int i = 0; i < 13; ++i) {
        for (int j = 0; j < 17; ++j) {
          if (m[i][j] != 0) best = std::min(best, std::hypot((r - i) * 1.3, (c - j) * 0.6));
        }
      }
      ASSERT_NEAR(d[r][c].item<double>(), best, 1e-9) << r << "," << c;
    }
  }
  EXPECT_TRUE(std::isinf(metrics::distance_transform(torch::zeros({3, 3}))[1][1].item<double>()));
}

TEST(Metrics, EMeasureAndMaeOnTheWorkedExample) {
  // n11 = 3, n10 = 1, n01 = 1, n00 = 11; both means 1/4. Aligned pixels
  // score 1, the two disagreeing ones ((1 - 0.6) / 2)^2 = 0.04 each.
  const double expected = (3.0 + 11.0 + 2 * 0.04) / (15.0 + 1e-7);
  EXPECT_NEAR(metrics::e_measure(example_pred(), example_gt()), expected, 1e-6);
  const auto record = metrics::analyze_case("x", example_pred(), example_gt(), MetricOptions());
  EXPECT_NEAR(record.e_measure, expected, 1e-6);
  EXPECT_DOUBLE_EQ(record.mae, 2.0 / 16.0);
  // Empty ground truth: 1 - the predicted fraction; a perfect empty prediction is 16/15.
  const auto empty = torch::zeros({4, 4}, torch::kByte);
  EXPECT_NEAR(metrics::e_measure(example_pred(), empty), 12.0 / 15.0, 1e-6);
  EXPECT_NEAR(metrics::e_measure(empty, empty), 16.0 / 15.0, 1e-6);
}

TEST(Metrics, ReferenceModeOnTheWorkedExample) {
  metrics::Evaluator evaluator(MetricOptions{});
  evaluator.add("x", example_pred(), example_gt());
  const auto r = evaluator.aggregate().reference;
  // Both classes are present in the one image: the plain mean of the two.
  EXPECT_NEAR(r.miou, (11.0 / 13.0 + 3.0 / 5.0) / 2.0, 1e-7);
  EXPECT_NEAR(r.mdice, (22.0 / 24.0 + 6.0 / 8.0) / 2.0, 1e-7);
  EXPECT_NEAR(r.avg_recall, (11.0 / 12.0 + 3.0 / 4.0) / 2.0, 1e-7);
  EXPECT_NEAR(r.avg_precision, (11.0 / 12.0 + 3.0 / 4.0) / 2.0, 1e-7);
  EXPECT_EQ(r.images_with_class, (std::vector<int64_t>{1, 1}));
}

TEST(Metrics, ReferenceModeMatchesItsFormulasOnRandomMasks) {
  torch::manual_seed(11);
  const int64_t classes = 3;
  MetricOptions options;
  options.num_classes = classes;
  metrics::Evaluator evaluator(options);
  std::vector<torch::Tensor> preds, gts;
  for (int i = 0; i < 9; ++i) {
    auto gt = torch::randint(0, classes, {20, 24}, torch::kByte);
    if (i % 3 == 0) gt.masked_fill_(gt == 2, 0);  // some images lack class 2
    if (i == 4) gt.zero_();                       // one lacks all foreground
    gt.masked_fill_(torch::rand({20, 24}) > 0.95, 255);
    auto pred = torch::randint(0, classes, {20, 24}, torch::kByte);
    preds.push_back(pred);
    gts.push_back(gt);
    evaluator.add("case" + std::to_string(i), pred, gt);
  }
  const auto summary = evaluator.aggregate();
  // The oracle: tensors all the way.
  const auto p = torch::stack(preds), g = torch::stack(gts);
  const auto valid = g != 255;
  double weights = 0, miou = 0, mdice = 0, mrec = 0, mprec = 0, mf2 = 0;
  for (int64_t c = 0; c < classes; ++c) {
    const auto inter = ((p == c) & (g == c) & valid).sum().item<double>();
    const auto pred_area = ((p == c) & valid).sum().item<double>();
    const auto gt_area = (g == c).sum().item<double>();
    const auto w = (g == c).flatten(1).any(1).sum().item<double>();
    const double u = gt_area + pred_area - inter + 1e-7;
    const double prec = inter / (pred_area + 1e-7), rec = inter / (gt_area + 2e-7);
    weights += w;
    miou += w * inter / u;
    mdice += w * 2 * inter / (u + inter);
    mrec += w * rec;
    mprec += w * prec;
    mf2 += w * 5 * prec * rec / (4 * prec + rec + 1e-7);
    EXPECT_EQ(summary.reference.images_with_class[static_cast<size_t>(c)], static_cast<int64_t>(w));
  }
  EXPECT_NEAR(summary.reference.miou, miou / weights, 1e-9);
  EXPECT_NEAR(summary.reference.mdice, mdice / weights, 1e-9);
  EXPECT_NEAR(summary.reference.avg_recall, mrec / weights, 1e-9);
  EXPECT_NEAR(summary.reference.avg_precision, mprec / weights, 1e-9);
  EXPECT_NEAR(summary.reference.avg_f2, mf2 / weights, 1e-9);
  // Default mode: the mean of per-case Dice, NaN cases left out.
  for (int64_t c = 1; c < classes; ++c) {
    double sum = 0;
    int n = 0;
    for (size_t i = 0; i < preds.size(); ++i) {
      const auto v = gts[i] != 255;
      const auto inter = ((preds[i] == c) & (gts[i] == c)).sum().item<double>();
      const double total =
          ((preds[i] == c) & v).sum().item<double>() + (gts[i] == c).sum().item<double>();
      if (total == 0) continue;
      sum += 2 * inter / total;
      ++n;
    }
    const auto& s = summary.per_class.classes[static_cast<size_t>(c - 1)];
    EXPECT_EQ(s.stat("dice").n, n);
    EXPECT_NEAR(s.stat("dice").mean, sum / n, 1e-12);
  }
}

// Drawn shapes on a 20 x 20 canvas (rows, columns).
struct Scene {
  torch::Tensor gt = torch::zeros({20, 20}, torch::kByte);
  torch::Tensor pred = torch::zeros({20, 20}, torch::kByte);
};

Scene drawn_scene() {
  Scene s;
  auto box = [](torch::Tensor& t, int r0, int r1, int c0, int c1) {
    t.slice(0, r0, r1 + 1).slice(1, c0, c1 + 1).fill_(1);
  };
  box(s.gt, 2, 4, 2, 4);  // A: found exactly
  box(s.pred, 2, 4, 2, 4);
  box(s.gt, 2, 3, 10, 11);  // B and C: two squares a row apart ...
  box(s.gt, 5, 6, 10, 11);
  box(s.pred, 2, 6, 10, 11);  // ... merged by one predicted component
  s.gt[17][17] = 1;           // D: a dot nobody found
  box(s.pred, 15, 16, 2, 3);  // a false alarm
  box(s.gt, 8, 8, 2, 7);      // E: a bar split in two predicted pieces
  box(s.pred, 8, 8, 2, 3);
  box(s.pred, 8, 8, 6, 7);
  return s;
}

TEST(Metrics, AnyOverlapMatchingOnDrawnShapes) {
  const Scene s = drawn_scene();
  const auto overlap = metrics::MatchRule::parse("overlap");
  const auto objects = metrics::match_objects(s.pred, s.gt, 2, overlap);
  std::vector<metrics::ObjectRecord> gt, pred;
  for (const auto& o : objects) (o.ground_truth ? gt : pred).push_back(o);
  ASSERT_EQ(gt.size(), 5u);
  ASSERT_EQ(pred.size(), 5u);
  auto find_gt = [&](int64_t x, int64_t y) {
    for (const auto& o : gt) {
      if (o.x == x && o.y == y) return o;
    }
    ADD_FAILURE() << "no object at " << x << "," << y;
    return metrics::ObjectRecord{};
  };
  const auto a = find_gt(2, 2), b = find_gt(10, 2), c = find_gt(10, 5), d = find_gt(17, 17),
             e = find_gt(2, 8);
  EXPECT_TRUE(a.matched);
  EXPECT_DOUBLE_EQ(a.dice, 1.0);
  EXPECT_EQ(a.area_px, 9);
  // Merged: both detected, each scored against the whole 10-pixel component.
  EXPECT_TRUE(b.matched);
  EXPECT_TRUE(c.matched);
  EXPECT_DOUBLE_EQ(b.dice, 8.0 / 14.0);
  EXPECT_DOUBLE_EQ(c.iou, 4.0 / 10.0);
  EXPECT_FALSE(d.matched);
  EXPECT_DOUBLE_EQ(d.dice, 0.0);
  EXPECT_DOUBLE_EQ(d.area_pct, 100.0 / 400.0);
  // Split: one detection from the union of both pieces.
  EXPECT_TRUE(e.matched);
  EXPECT_EQ(e.partners, 2);
  EXPECT_DOUBLE_EQ(e.dice, 2.0 * 4.0 / (6.0 + 4.0));
  int64_t false_positives = 0, merges = 0;
  for (const auto& o : pred) {
    false_positives += o.matched ? 0 : 1;
    merges += o.partners > 1 ? 1 : 0;
  }
  EXPECT_EQ(false_positives, 1);
  EXPECT_EQ(merges, 1);

  // The reduction over these objects: one bin holds them all at 20 x 20.
  MetricOptions options;
  options.match = overlap;
  options.object_bins_pct = {0.5, 2, 5};  // <0.5 | 0.5-2 | 2-5 | >=5
  metrics::Evaluator evaluator(options);
  evaluator.add("scene", s.pred, s.gt);
  const auto bins = evaluator.aggregate().objects;
  ASSERT_EQ(bins.size(), 5u);  // 4 bins + "all" for the one foreground class
  const auto& all = bins.back();
  EXPECT_EQ(all.label, "all");
  EXPECT_EQ(all.gt_objects, 5);
  EXPECT_EQ(all.detected, 4);
  EXPECT_EQ(all.missed, 1);
  EXPECT_EQ(all.predicted, 5);
  EXPECT_EQ(all.false_positives, 1);
  EXPECT_EQ(all.merged, 1);
  EXPECT_EQ(all.split, 1);
  EXPECT_DOUBLE_EQ(metrics::object_recall(all), 0.8);
  EXPECT_DOUBLE_EQ(metrics::object_precision(all), 0.8);
  EXPECT_DOUBLE_EQ(metrics::object_f1(all), 0.8);
  const double dice_sum = 1.0 + 2 * 8.0 / 14.0 + 0.8;
  EXPECT_DOUBLE_EQ(metrics::object_dice(all), dice_sum / 5.0);
  EXPECT_DOUBLE_EQ(metrics::lesion_dice(all), dice_sum / 6.0);
  // The dot (0.25 %) is the only object under 0.5 %, and it was missed.
  EXPECT_EQ(bins[0].label, "<0.5");
  EXPECT_EQ(bins[0].gt_objects, 1);
  EXPECT_EQ(bins[0].detected, 0);
  EXPECT_DOUBLE_EQ(metrics::object_recall(bins[0]), 0.0);
  // A (9 px = 2.25 %) falls in 2-5; B, C (1 %) and E (1.5 %) in 0.5-2.
  EXPECT_EQ(bins[1].gt_objects, 3);
  EXPECT_EQ(bins[2].gt_objects, 1);
}

TEST(Metrics, ObjectBinsCanBeInPixels) {
  const Scene s = drawn_scene();
  MetricOptions options;
  options.object_bins_px = {5, 8};  // areas: A 9, B 4, C 4, D 1, E 6 px
  metrics::Evaluator evaluator(options);
  evaluator.add("scene", s.pred, s.gt);
  const auto bins = evaluator.aggregate().objects;
  ASSERT_EQ(bins.size(), 4u);
  EXPECT_EQ(bins[0].label, "<5");
  EXPECT_EQ(bins[0].unit, "px");
  EXPECT_EQ(bins[0].gt_objects, 3);
  // B found; C (whose merging component paired with B) and the dot D missed.
  EXPECT_EQ(bins[0].detected, 1);
  EXPECT_EQ(bins[1].label, "5-8");
  EXPECT_EQ(bins[1].gt_objects, 1);
  EXPECT_EQ(bins[2].label, ">=8");
  EXPECT_EQ(bins[2].gt_objects, 1);
  options.object_bins_px = {8, 5};
  ASSERT_THROWS_WITH(options.validate(), "in pixels must be positive and increasing");
}

TEST(Metrics, OneToOneMatchingOnDrawnShapes) {
  // The default rule, iou:0.1, on the same scene. Objects in raster order:
  // A (2,2), B (2,10), C (5,10), E (8,2), D (17,17).
  const Scene s = drawn_scene();
  const auto objects = metrics::match_objects(s.pred, s.gt, 2);
  std::vector<metrics::ObjectRecord> gt, pred;
  for (const auto& o : objects) (o.ground_truth ? gt : pred).push_back(o);
  ASSERT_EQ(gt.size(), 5u);
  ASSERT_EQ(pred.size(), 5u);
  const auto &a = gt[0], &b = gt[1], &c = gt[2], &e = gt[3], &d = gt[4];
  EXPECT_EQ(d.x, 17);
  EXPECT_TRUE(a.matched);
  EXPECT_DOUBLE_EQ(a.iou, 1.0);
  // The merging component (IoU 0.4 with each) pairs with one object, B
  // (first in raster order on a tie); C is missed, its record showing how
  // near it came.
  EXPECT_TRUE(b.matched);
  EXPECT_FALSE(c.matched);
  EXPECT_DOUBLE_EQ(b.iou, 0.4);
  EXPECT_DOUBLE_EQ(c.iou, 0.4);
  EXPECT_EQ(c.partners, 1);
  // The split bar pairs with one piece (IoU 2/6); the other is a false positive.
  EXPECT_TRUE(e.matched);
  EXPECT_DOUBLE_EQ(e.dice, 2.0 * 2.0 / (6.0 + 2.0));
  EXPECT_EQ(e.partners, 2);
  EXPECT_FALSE(d.matched);
  EXPECT_DOUBLE_EQ(d.dice, 0.0);
  // Components in raster order: A', BC', the bar's pieces, the false alarm.
  EXPECT_TRUE(pred[0].matched);
  EXPECT_TRUE(pred[1].matched);
  EXPECT_EQ(pred[1].partners, 2);
  EXPECT_TRUE(pred[2].matched);
  EXPECT_FALSE(pred[3].matched);
  EXPECT_FALSE(pred[4].matched);

  metrics::Evaluator evaluator(MetricOptions{});
  evaluator.add("scene", s.pred, s.gt);
  const auto summary = evaluator.aggregate();
  EXPECT_EQ(summary.options.match.to_string(), "iou:0.1");
  const auto& all = *metrics::all_objects(summary);
  EXPECT_EQ(all.gt_objects, 5);
  EXPECT_EQ(all.detected, 3);
  EXPECT_EQ(all.predicted, 5);
  EXPECT_EQ(all.true_positives, 3);
  EXPECT_EQ(all.false_positives, 2);
  EXPECT_DOUBLE_EQ(metrics::object_recall(all), 0.6);
  EXPECT_DOUBLE_EQ(metrics::object_precision(all), 0.6);
  EXPECT_DOUBLE_EQ(metrics::object_f1(all), 0.6);
  EXPECT_DOUBLE_EQ(metrics::object_dice(all), (1.0 + 8.0 / 14.0 + 0.5) / 5.0);
  // Panoptic quality: IoUs 1 (A), 0.4 (B) and 2/6 (E) over 3 + 2/2 + 2/2.
  const double iou_sum = 1.0 + 0.4 + 2.0 / 6.0;
  EXPECT_DOUBLE_EQ(all.iou_sum, iou_sum);
  EXPECT_DOUBLE_EQ(metrics::panoptic_quality(all), iou_sum / 5.0);
  EXPECT_DOUBLE_EQ(metrics::segmentation_quality(all), iou_sum / 3.0);
  EXPECT_DOUBLE_EQ(metrics::recognition_quality(all), 0.6);
  EXPECT_DOUBLE_EQ(metrics::segmentation_quality(all) * metrics::recognition_quality(all),
                   metrics::panoptic_quality(all));
  // The headline's object_pq is that of every object.
  EXPECT_DOUBLE_EQ(metrics::headline(summary).at("object_pq"), iou_sum / 5.0);
}

TEST(Metrics, ObjectF1IsZeroWhenRecallOrPrecisionIsZeroAndUndefinedOtherwise) {
  metrics::ObjectCounts missed;
  missed.gt_objects = missed.missed = 4;
  EXPECT_DOUBLE_EQ(metrics::object_recall(missed), 0.0);
  EXPECT_TRUE(std::isnan(metrics::object_precision(missed)));  // nothing predicted
  EXPECT_DOUBLE_EQ(metrics::object_f1(missed), 0.0);           // not skipped by a mean
  metrics::ObjectCounts alarms;
  alarms.predicted = alarms.false_positives = 2;
  EXPECT_DOUBLE_EQ(metrics::object_f1(alarms), 0.0);
  EXPECT_TRUE(std::isnan(metrics::object_f1(metrics::ObjectCounts{})));
  // A size bin whose components all matched objects of another bin: its
  // precision is 1 and it has no objects of its own, so no F1.
  metrics::ObjectCounts elsewhere;
  elsewhere.predicted = elsewhere.true_positives = 3;
  EXPECT_DOUBLE_EQ(metrics::object_precision(elsewhere), 1.0);
  EXPECT_TRUE(std::isnan(metrics::object_f1(elsewhere)));
  // And the reverse: objects of the bin found by components of other sizes.
  metrics::ObjectCounts found;
  found.gt_objects = found.detected = 2;
  EXPECT_TRUE(std::isnan(metrics::object_f1(found)));
}

TEST(Metrics, AHigherIouTurnsWeakPairsIntoMisses) {
  const Scene s = drawn_scene();
  const auto objects =
      metrics::match_objects(s.pred, s.gt, 2, metrics::MatchRule::parse("iou:0.5"));
  const auto counts = metrics::count_objects(objects);
  // Only A (IoU 1) pairs: B and C (0.4) and the bar (1/3 per piece) are
  // missed, and every other component is a false positive.
  EXPECT_EQ(counts.detected, 1);
  EXPECT_EQ(counts.missed, 4);
  EXPECT_EQ(counts.false_positives, 4);
}

TEST(Metrics, AFloodFindsNothingUnderTheDefaultRule) {
  // Six small objects on a 64 x 64 image, and a prediction of all foreground.
  auto gt = torch::zeros({64, 64}, torch::kByte);
  for (int64_t i = 0; i < 6; ++i) gt.slice(0, 4 + 10 * i, 7 + 10 * i).slice(1, 5, 8).fill_(1);
  const auto flood = torch::ones({64, 64}, torch::kByte);
  metrics::Evaluator evaluator(MetricOptions{});
  evaluator.add("flood", flood, gt);
  const auto summary = evaluator.aggregate();
  const auto& all = *metrics::all_objects(summary);
  EXPECT_EQ(all.gt_objects, 6);
  EXPECT_EQ(all.detected, 0);
  EXPECT_EQ(all.predicted, 1);
  EXPECT_EQ(all.false_positives, 1);
  EXPECT_DOUBLE_EQ(metrics::object_recall(all), 0.0);
  EXPECT_DOUBLE_EQ(metrics::object_precision(all), 0.0);
  EXPECT_DOUBLE_EQ(metrics::object_f1(all), 0.0);
  EXPECT_DOUBLE_EQ(metrics::panoptic_quality(all), 0.0);
  // Any overlap, the rule svanet 0.1 used by default, finds all six at
  // precision 1: why it is not the default.
  MetricOptions overlap;
  overlap.match = metrics::MatchRule::parse("overlap");
  metrics::Evaluator gamed(overlap);
  gamed.add("flood", flood, gt);
  const auto gamed_summary = gamed.aggregate();
  const auto& fooled = *metrics::all_objects(gamed_summary);
  EXPECT_DOUBLE_EQ(metrics::object_recall(fooled), 1.0);
  EXPECT_DOUBLE_EQ(metrics::object_precision(fooled), 1.0);
}

TEST(Metrics, TheCoverageWarnsOfAFloodAndOfNothingPredicted) {
  // Six 3 x 3 objects on 64 x 64 (54 pixels, 1.3 %).
  auto gt = torch::zeros({64, 64}, torch::kByte);
  for (int64_t i = 0; i < 6; ++i) gt.slice(0, 4 + 10 * i, 7 + 10 * i).slice(1, 5, 8).fill_(1);
  auto warnings = [&](const torch::Tensor& pred) {
    metrics::Evaluator evaluator(MetricOptions{});
    evaluator.add("a", pred, gt);
    evaluator.add("b", gt, gt);  // one good case beside it
    const auto summary = evaluator.aggregate();
    return std::make_pair(summary.coverage, metrics::coverage_warnings(summary));
  };
  const auto [good, none] = warnings(gt);
  EXPECT_TRUE(none.empty());
  EXPECT_EQ(good.pixels, 2 * 4096);
  EXPECT_EQ(good.gt_pixels, 108);
  EXPECT_EQ(good.predicted_pixels, 108);
  // Every pixel predicted in one of the two images.
  const auto [flood, flooded] = warnings(torch::ones({64, 64}, torch::kByte));
  EXPECT_EQ(flood.flooded_cases, 1);
  ASSERT_EQ(flooded.size(), 2u);
  EXPECT_EQ(flooded[0].rfind("A flood: the prediction labels over half of all pixels foreground "
                             "(50.7 % of the pixels, the ground truth 1.32 %)",
                             0),
            0u)
      << flooded[0];
  EXPECT_NE(flooded[0].find("under the rule in force (iou:0.1) a component that pairs with no "
                            "object is a false positive"),
            std::string::npos);
  EXPECT_EQ(flooded[1], "1 of 2 images are over half foreground in the prediction.");
  // Under any overlap the warning says the object metrics overstate it.
  MetricOptions overlap;
  overlap.match = metrics::MatchRule::parse("overlap");
  metrics::Evaluator gamed(overlap);
  gamed.add("a", torch::ones({64, 64}, torch::kByte), gt);
  EXPECT_NE(metrics::coverage_warnings(gamed.aggregate())[0].find(
                "under the rule in force (overlap) it finds every object it touches, so the "
                "object metrics overstate it"),
            std::string::npos);
  // Each object predicted 7 x 7 in one image: (6 * 49 + 54) / 108 = 3.22 times.
  auto wide = torch::zeros({64, 64}, torch::kByte);
  for (int64_t i = 0; i < 6; ++i) wide.slice(0, 2 + 10 * i, 9 + 10 * i).slice(1, 3, 10).fill_(1);
  const auto [loose, widened] = warnings(wide);
  ASSERT_EQ(widened.size(), 1u);
  EXPECT_EQ(widened[0].rfind("The prediction covers 3.22 times the ground truth's foreground", 0),
            0u)
      << widened[0];
  // Nothing predicted in one image of two, then in both.
  const auto [half, empty] = warnings(torch::zeros({64, 64}, torch::kByte));
  EXPECT_EQ(half.empty_cases, 1);
  ASSERT_EQ(empty.size(), 1u);
  EXPECT_EQ(empty[0], "In 1 of 2 images with ground-truth foreground nothing was predicted.");
  metrics::Evaluator nothing(MetricOptions{});
  nothing.add("a", torch::zeros({64, 64}, torch::kByte), gt);
  const auto all_empty = metrics::coverage_warnings(nothing.aggregate());
  ASSERT_EQ(all_empty.size(), 1u);
  EXPECT_EQ(all_empty[0].rfind("Nothing was predicted: every object is missed", 0), 0u);
}

TEST(Metrics, BratsDilatedOverlapOnAHandComputedCase) {
  // Two ground-truth dots one pixel apart, a 2x2 square; predicted: a dot
  // between the two, a 2x2 square shifted one column (2 pixels shared), a
  // far dot.
  auto gt = torch::zeros({12, 12}, torch::kByte);
  gt[2][2] = 1;
  gt[2][4] = 1;
  gt.slice(0, 7, 9).slice(1, 7, 9).fill_(1);
  auto pred = torch::zeros({12, 12}, torch::kByte);
  pred[2][3] = 1;
  pred.slice(0, 7, 9).slice(1, 8, 10).fill_(1);
  pred[10][0] = 1;
  // BraTS with a dilation of 1: the dots' dilations touch, so they are one
  // object (2 pixels); the dot between them touches its dilation (found,
  // Dice 0: no pixel shared); the square is found with Dice 2*2/(4+4); the
  // far dot is a false positive.
  const auto brats = metrics::match_objects(pred, gt, 2, metrics::MatchRule::parse("overlap:1"));
  const auto c = metrics::count_objects(brats);
  EXPECT_EQ(c.gt_objects, 2);
  EXPECT_EQ(c.detected, 2);
  EXPECT_EQ(c.predicted, 3);
  EXPECT_EQ(c.true_positives, 2);
  EXPECT_EQ(c.false_positives, 1);
  EXPECT_EQ(brats[0].area_px, 2);
  EXPECT_EQ(brats[0].width, 3);
  EXPECT_DOUBLE_EQ(brats[0].dice, 0.0);
  EXPECT_DOUBLE_EQ(brats[1].dice, 0.5);
  EXPECT_DOUBLE_EQ(metrics::lesion_dice(c), 0.5 / 3.0);
  EXPECT_DOUBLE_EQ(metrics::object_precision(c), 2.0 / 3.0);
  // Without dilation: three objects, the dots missed, two false positives.
  const auto plain = metrics::count_objects(
      metrics::match_objects(pred, gt, 2, metrics::MatchRule::parse("overlap")));
  EXPECT_EQ(plain.gt_objects, 3);
  EXPECT_EQ(plain.detected, 1);
  EXPECT_EQ(plain.false_positives, 2);
  EXPECT_DOUBLE_EQ(metrics::lesion_dice(plain), 0.5 / 5.0);
  // One to one at IoU 0.1: the square pairs (IoU 2/6), the dots do not.
  const auto one = metrics::count_objects(metrics::match_objects(pred, gt, 2));
  EXPECT_EQ(one.detected, 1);
  EXPECT_EQ(one.false_positives, 2);
}

TEST(Metrics, OneToOneMatchingIsMaximalAndItsPanopticQualityMatchesBruteForce) {
  // On random speckle (every other trial a prediction that is the ground
  // truth with 8 % of its pixels flipped, so that pairs above IoU 0.5
  // occur), against brute force over the components: every pair
  // reaches the threshold, each object and component is used once, no
  // unmatched object and unmatched component could still pair, and above
  // IoU 0.5 (where at most one partner can qualify) exactly the objects
  // with a qualifying component are found, and the panoptic quality is
  // that of the qualifying pairs.
  std::mt19937 rng(5);
  std::bernoulli_distribution on(0.3), flip(0.08);
  double pairs_above_half = 0.0;  // so that the PQ check is not vacuous
  for (const double t : {0.1, 0.3, 0.6}) {
    for (int trial = 0; trial < 10; ++trial) {
      auto gt = torch::zeros({24, 24}, torch::kByte), pred = torch::zeros({24, 24}, torch::kByte);
      for (int64_t i = 0; i < gt.numel(); ++i) {
        const bool g_on = on(rng);
        gt.view(-1)[i] = g_on ? 1 : 0;
        pred.view(-1)[i] = (trial % 2 == 1 ? g_on != flip(rng) : on(rng)) ? 1 : 0;
      }
      const auto g = utils::label_objects(gt, 2), p = utils::label_objects(pred, 2);
      const auto gi = g.ids[0], pi = p.ids[0];
      std::vector<std::vector<double>> iou(static_cast<size_t>(g.count()),
                                           std::vector<double>(static_cast<size_t>(p.count())));
      for (int64_t a = 0; a < g.count(); ++a) {
        for (int64_t b = 0; b < p.count(); ++b) {
          const auto inter = ((gi == a + 1) & (pi == b + 1)).sum().item<double>();
          iou[a][b] = inter / (static_cast<double>(g.area[a] + p.area[b]) - inter);
        }
      }
      const auto records = metrics::match_objects(
          pred, gt, 2, metrics::MatchRule::parse("iou:" + std::to_string(t)));
      // Records come in the same raster order as label_objects' objects.
      std::vector<bool> g_found, p_found;
      for (const auto& r : records) (r.ground_truth ? g_found : p_found).push_back(r.matched);
      ASSERT_EQ(g_found.size(), static_cast<size_t>(g.count()));
      ASSERT_EQ(p_found.size(), static_cast<size_t>(p.count()));
      const auto counts = metrics::count_objects(records);
      EXPECT_EQ(counts.detected, counts.true_positives);
      for (int64_t a = 0; a < g.count(); ++a) {
        bool can_pair = false;
        for (int64_t b = 0; b < p.count(); ++b) {
          can_pair |= iou[a][b] >= t;
          if (!g_found[a] && !p_found[b]) {
            EXPECT_LT(iou[a][b], t) << "maximal, trial " << trial;
          }
        }
        if (t > 0.5) {
          EXPECT_EQ(g_found[a], can_pair) << "trial " << trial;
        }
        if (g_found[a]) {
          EXPECT_GE(records[static_cast<size_t>(a)].iou, t);
        }
      }
      if (t > 0.5) {
        // Panoptic quality as Kirillov et al. define it: above IoU 0.5 the
        // qualifying pairs are unique, PQ = their summed IoU / (TP + FN / 2
        // + FP / 2), SQ their mean IoU, RQ = TP / (TP + FN / 2 + FP / 2).
        double tp = 0.0, iou_sum = 0.0;
        for (const auto& row : iou) {
          for (const double v : row) {
            if (v >= t) {
              tp += 1.0;
              iou_sum += v;
            }
          }
        }
        pairs_above_half += tp;
        const double fn = static_cast<double>(g.count()) - tp;
        const double fp = static_cast<double>(p.count()) - tp;
        const double denominator = tp + 0.5 * (fn + fp);
        if (denominator > 0) {
          EXPECT_NEAR(metrics::panoptic_quality(counts), iou_sum / denominator, 1e-12);
          EXPECT_NEAR(metrics::recognition_quality(counts), tp / denominator, 1e-12);
        }
        if (tp > 0) {
          EXPECT_NEAR(metrics::segmentation_quality(counts), iou_sum / tp, 1e-12);
        }
      }
    }
  }
  EXPECT_GT(pairs_above_half, 10.0);
}

TEST(Metrics, MatchingRulesParseAndSayWhatIsWrong) {
  EXPECT_EQ(metrics::MatchRule::parse("iou").to_string(), "iou:0.1");
  EXPECT_EQ(metrics::MatchRule::parse("iou:0.5").to_string(), "iou:0.5");
  EXPECT_EQ(metrics::MatchRule::parse("overlap").to_string(), "overlap");
  EXPECT_EQ(metrics::MatchRule::parse("overlap:3").to_string(), "overlap:3");
  EXPECT_EQ(metrics::MatchRule::parse("overlap:3"), metrics::MatchRule::parse(" overlap: 3 "));
  ASSERT_THROWS_WITH(metrics::MatchRule::parse("iou:0"), "the IoU must be in (0, 1]");
  ASSERT_THROWS_WITH(metrics::MatchRule::parse("iou:x"), "'x' is not a number");
  ASSERT_THROWS_WITH(metrics::MatchRule::parse("overlap:-1"), "the dilation must be 0..64");
  ASSERT_THROWS_WITH(metrics::MatchRule::parse("dice:0.5"),
                     "unknown rule 'dice'; the rules are iou:T");
}

CaseRecord record_with_ratio(const std::string& id, double ratio) {
  CaseRecord r;
  r.id = id;
  r.object_ratio = ratio;
  r.classes.resize(2);
  r.classes[1].counts = {1, 0, 0, 3};
  r.classes[0].counts = {3, 0, 0, 1};
  r.reference_counts = {r.classes[0].counts, r.classes[1].counts};
  return r;
}

TEST(Metrics, LossesAndEvaluationSeeTheSameObjects) {
  // utils::label_objects (the core library's, for losses and samplers) and
  // the evaluation's OpenCV components agree on random speckled masks.
  std::mt19937 rng(11);
  std::uniform_int_distribution<int> pick(0, 9);
  for (int trial = 0; trial < 20; ++trial) {
    auto gt = torch::zeros({32, 40}, torch::kByte);
    auto* px = gt.data_ptr<uint8_t>();
    for (int64_t i = 0; i < gt.numel(); ++i) {
      const int v = pick(rng);
      px[i] = static_cast<uint8_t>(v < 6 ? 0 : v < 8 ? 1 : v < 9 ? 2 : 255);
    }
    std::map<int64_t, std::vector<int64_t>> from_core, from_metrics;
    const auto objects = utils::label_objects(gt, 3);
    for (int64_t k = 0; k < objects.count(); ++k) {
      from_core[objects.label[static_cast<size_t>(k)]].push_back(
          objects.area[static_cast<size_t>(k)]);
    }
    for (const auto& r : metrics::match_objects(gt, gt, 3)) {
      if (r.ground_truth) from_metrics[r.class_index].push_back(r.area_px);
    }
    for (auto* m : {&from_core, &from_metrics}) {
      for (auto& [c, areas] : *m) std::sort(areas.begin(), areas.end());
    }
    EXPECT_EQ(from_core, from_metrics) << "trial " << trial;
  }
}

TEST(Metrics, SizeBinEdgesAreStrictUpperBounds) {
  metrics::Evaluator evaluator(MetricOptions{});
  evaluator.add_record(record_with_ratio("empty", 0.0));
  evaluator.add_record(record_with_ratio("half", 0.5));  // exactly on an edge
  evaluator.add_record(record_with_ratio("small", 0.49));
  evaluator.add_record(record_with_ratio("large", 12.0));
  const auto bins = evaluator.aggregate().size_bins;
  ASSERT_EQ(bins.size(), 14u);  // 7 cumulative + 7 disjoint
  // Cumulative "< 0.5": the empty image and 0.49, not 0.5.
  EXPECT_EQ(bins[0].label, "<0.5");
  EXPECT_TRUE(bins[0].cumulative);
  EXPECT_EQ(bins[0].images, 2);
  EXPECT_EQ(bins[1].images, 3);    // "< 1" takes 0.5
  EXPECT_FALSE(bins[5].complete);  // "< 10" misses the 12 % image
  EXPECT_TRUE(bins[6].complete);   // "< 100"
  EXPECT_EQ(bins[6].images, 4);
  // Disjoint: 0.5 opens the "0.5-1" bin; 12 % lands in ">=10".
  EXPECT_FALSE(bins[7].cumulative);
  EXPECT_EQ(bins[7].images, 2);
  EXPECT_EQ(bins[8].label, "0.5-1");
  EXPECT_EQ(bins[8].images, 1);
  EXPECT_EQ(bins[13].label, ">=10");
  EXPECT_EQ(bins[13].images, 1);
}

TEST(Metrics, CaseRecordsCarryTheOfficialObjectRatio) {
  // A 10x10 square in 100x100: OpenCV's contour area through the border
  // pixel centres is 9 x 9 = 0.81 % of the image.
  auto gt = torch::zeros({100, 100}, torch::kByte);
  gt.slice(0, 10, 20).slice(1, 10, 20).fill_(1);
  const auto r = metrics::analyze_case("sq", gt, gt, MetricOptions{});
  EXPECT_DOUBLE_EQ(r.object_ratio, 0.81);
}

TEST(Metrics, RecordsSurviveSerializationAndDuplicatesCountOnce) {
  const Scene s = drawn_scene();
  MetricOptions options;
  metrics::Evaluator a(options), b(options);
  a.add("scene", s.pred, s.gt);
  a.add("example", torch::constant_pad_nd(example_pred(), {0, 16, 0, 16}),
        torch::constant_pad_nd(example_gt(), {0, 16, 0, 16}));
  b.merge_serialized(a.serialize());
  b.add("scene", s.pred, s.gt);  // a padded shard repeats a case
  const auto sa = a.aggregate(), sb = b.aggregate();
  EXPECT_EQ(sb.cases, 2);
  EXPECT_DOUBLE_EQ(sa.reference.miou, sb.reference.miou);
  EXPECT_DOUBLE_EQ(sa.per_class.mean.stat("hd95").mean, sb.per_class.mean.stat("hd95").mean);
  EXPECT_EQ(sa.objects.back().gt_objects, sb.objects.back().gt_objects);
  a.reset();
  EXPECT_EQ(a.size(), 0);
  ASSERT_THROWS_WITH(b.merge_serialized("not cbor"), "corrupt evaluation records");
}

TEST(Metrics, BadInputNamesTheCase) {
  MetricOptions options;
  metrics::Evaluator evaluator(options);
  auto pred = example_pred();
  pred[0][0] = 2;
  ASSERT_THROWS_WITH(evaluator.add("img_007", pred, example_gt()),
                     "img_007: the prediction holds the value 2, but there are only 2 classes");
  ASSERT_THROWS_WITH(evaluator.add("img_008", torch::zeros({3, 4}, torch::kByte), example_gt()),
                     "img_008: the prediction is 4x3 but the ground truth is 4x4");
  options.num_classes = 1;
  ASSERT_THROWS_WITH(metrics::Evaluator{options}, "num_classes must be in 2..255");
}

}  // namespace
}  // namespace svanet::test
