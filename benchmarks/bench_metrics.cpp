// Times the evaluation of many masks with every metric on (per-class counts,
// HD95/ASSD, per-object matching, E-measure, size bins), as `svanet
// evaluate` scores them: cases analysed in parallel, then reduced.

#include "svanet/data/image_io.h"
#include "svanet/metrics/evaluator.h"
#include "svanet/utils/parallel.h"

#include <torch/torch.h>
#include <CLI/CLI.hpp>
#include <opencv2/imgproc.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>

namespace {

/// A ground truth with a few dozen objects of two classes (radii 1 to 40
/// px) and a prediction that shifts, shrinks, drops and invents some.
std::pair<torch::Tensor, torch::Tensor> make_case(int size, std::mt19937& rng) {
  cv::Mat gt(size, size, CV_8UC1, cv::Scalar(0)), pred(size, size, CV_8UC1, cv::Scalar(0));
  std::uniform_int_distribution<int> pos(0, size - 1), objects(5, 40), cls(1, 2), shift(-3, 3);
  std::uniform_real_distribution<double> unit(0, 1);
  const int n = objects(rng);
  for (int i = 0; i < n; ++i) {
    const cv::Point c(pos(rng), pos(rng));
    const int r = 1 + static_cast<int>(std::pow(unit(rng), 2.0) * 40);
    const int k = cls(rng);
    cv::circle(gt, c, r, cv::Scalar(k), cv::FILLED);
    if (unit(rng) < 0.85) {
      cv::circle(pred, c + cv::Point(shift(rng), shift(rng)), std::max(1, r + shift(rng)),
                 cv::Scalar(k), cv::FILLED);
    }
  }
  for (int i = 0; i < 3; ++i) {
    if (unit(rng) < 0.5)
      cv::circle(pred, {pos(rng), pos(rng)}, 2 + pos(rng) % 8, cv::Scalar(cls(rng)), cv::FILLED);
  }
  auto t = [&](const cv::Mat& m) {
    return torch::from_blob(m.data, {size, size}, torch::kByte).clone();
  };
  return {t(pred), t(gt)};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Time scoring N masks with every svanet metric"};
  int64_t count = 1000;
  int size = 512, threads = 2;
  std::string write;
  app.add_option("--count", count)->capture_default_str();
  app.add_option("--write", write,
                 "Also write the masks as DIR/pred/*.png and DIR/gt/*.png (to time `svanet "
                 "evaluate --pred --gt` on them)");
  app.add_option("--size", size)->capture_default_str();
  app.add_option("--threads", threads, "threads analysing cases")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  torch::set_num_threads(1);
  std::mt19937 rng(0);
  std::vector<std::pair<torch::Tensor, torch::Tensor>> cases;
  for (int64_t i = 0; i < count; ++i) cases.push_back(make_case(size, rng));
  if (!write.empty()) {
    std::filesystem::create_directories(write + "/pred");
    std::filesystem::create_directories(write + "/gt");
    for (int64_t i = 0; i < count; ++i) {
      const auto& [pred, gt] = cases[static_cast<size_t>(i)];
      const std::string name = "case" + std::to_string(i) + ".png";
      const std::filesystem::path dir(write);
      svanet::data::write_mask_png((dir / "pred" / name).string(), pred);
      svanet::data::write_mask_png((dir / "gt" / name).string(), gt);
    }
  }
  svanet::metrics::MetricOptions options;
  options.num_classes = 3;
  svanet::metrics::Evaluator evaluator(options);
  const auto t0 = std::chrono::steady_clock::now();
  svanet::utils::parallel_for(
      count,
      [&](int64_t i) {
        const auto& [pred, gt] = cases[static_cast<size_t>(i)];
        evaluator.add("case" + std::to_string(i), pred, gt);
      },
      threads);
  const auto t1 = std::chrono::steady_clock::now();
  const auto summary = evaluator.aggregate();
  const auto t2 = std::chrono::steady_clock::now();
  const double analyse = std::chrono::duration<double>(t1 - t0).count();
  const double reduce = std::chrono::duration<double>(t2 - t1).count();
  int64_t objects = 0;
  for (const auto& r : evaluator.records()) objects += static_cast<int64_t>(r.objects.size());
  std::printf(
      "%lld masks of %dx%d, 3 classes, %lld objects and components, %d threads: analysis "
      "%.2f s, reductions %.2f s, total %.2f s (%.1f masks/s); Dice %.3f, HD95 %.1f px\n",
      static_cast<long long>(count), size, size, static_cast<long long>(objects), threads, analyse,
      reduce, analyse + reduce, static_cast<double>(count) / (analyse + reduce),
      summary.per_class.mean.stat("dice").mean, summary.per_class.mean.stat("hd95").mean);
  return summary.cases == count ? 0 : 1;
}
