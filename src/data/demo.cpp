#include "svanet/data/demo.h"

#include "data/cv_io.h"
#include "svanet/common/error.h"
#include "svanet/data/stats.h"
#include "svanet/utils/paths.h"
#include "utils/rng.h"

#include <opencv2/imgproc.hpp>
#include "svanet/utils/parallel.h"

#include <algorithm>
#include <cmath>
#include <filesystem>

namespace svanet::data {

namespace {

constexpr double kPi = 3.14159265358979323846;

using Rng = utils::Rng;

/// Smooth value noise in [0, 1]: random values on a coarse grid, upsampled.
cv::Mat value_noise(Rng& rng, int size, int cells) {
  cv::Mat coarse(cells, cells, CV_32F);
  for (int y = 0; y < cells; ++y) {
    for (int x = 0; x < cells; ++x) coarse.at<float>(y, x) = static_cast<float>(rng.uniform());
  }
  cv::Mat fine;
  cv::resize(coarse, fine, cv::Size(size, size), 0, 0, cv::INTER_CUBIC);
  return fine;
}

/// Sum of octaves of value noise, normalised to [0, 1].
cv::Mat fractal_noise(Rng& rng, int size, int base_cells, int octaves) {
  cv::Mat sum = cv::Mat::zeros(size, size, CV_32F);
  float amplitude = 1.0F;
  float total = 0.0F;
  int cells = base_cells;
  for (int o = 0; o < octaves; ++o) {
    sum += amplitude * value_noise(rng, size, cells);
    total += amplitude;
    amplitude *= 0.5F;
    cells *= 2;
  }
  sum /= total;
  cv::normalize(sum, sum, 0.0, 1.0, cv::NORM_MINMAX);
  return sum;
}

/// Blends `colour` into `image` (CV_32FC3, RGB in [0, 1]) with per-pixel weight `alpha` (CV_32F).
void blend(cv::Mat& image, const cv::Mat& alpha, const cv::Vec3f& colour) {
  for (int y = 0; y < image.rows; ++y) {
    auto* px = image.ptr<cv::Vec3f>(y);
    const auto* a = alpha.ptr<float>(y);
    for (int x = 0; x < image.cols; ++x) {
      if (a[x] > 0.0F) px[x] = px[x] * (1.0F - a[x]) + colour * a[x];
    }
  }
}

/// A random branching dark curve (vessel-like), drawn into `alpha`.
void draw_vessel_tree(Rng& rng, cv::Mat& alpha, cv::Point2d start, double angle, double width,
                      int depth) {
  cv::Point2d p = start;
  const int steps = rng.integer(12, 30);
  for (int i = 0; i < steps; ++i) {
    angle += rng.normal() * 0.18;
    const cv::Point2d q = p + cv::Point2d(std::cos(angle), std::sin(angle)) * rng.uniform(4.0, 9.0);
    cv::line(alpha, p, q, cv::Scalar(1.0), std::max(1, static_cast<int>(std::lround(width))),
             cv::LINE_AA);
    p = q;
    if (depth > 0 && rng.chance(0.08)) {
      draw_vessel_tree(rng, alpha, p, angle + (rng.chance(0.5) ? 0.6 : -0.6), width * 0.7,
                       depth - 1);
    }
    width = std::max(1.0, width * 0.97);
  }
}

/// Background of style 0 (fundus-like) or 1 (tissue-like).
cv::Mat background(Rng& rng, int size, int style) {
  cv::Mat image(size, size, CV_32FC3);
  const cv::Mat noise = fractal_noise(rng, size, 4, 4);
  const cv::Mat fine = fractal_noise(rng, size, 24, 2);
  if (style == 0) {
    // Orange-red disc with vignetting, a brighter optic-disc-like patch.
    const cv::Vec3f base(static_cast<float>(rng.uniform(0.70, 0.85)),
                         static_cast<float>(rng.uniform(0.30, 0.42)),
                         static_cast<float>(rng.uniform(0.12, 0.20)));
    const double cx = size * rng.uniform(0.3, 0.7), cy = size * rng.uniform(0.3, 0.7);
    const double disc_x = size * rng.uniform(0.15, 0.85), disc_y = size * rng.uniform(0.15, 0.85);
    for (int y = 0; y < size; ++y) {
      auto* px = image.ptr<cv::Vec3f>(y);
      for (int x = 0; x < size; ++x) {
        const double r = std::hypot(x - cx, y - cy) / size;
        const double vignette = std::clamp(1.15 - 1.1 * r * r, 0.25, 1.0);
        const double d = std::hypot(x - disc_x, y - disc_y) / (0.07 * size);
        const double disc = std::exp(-d * d) * 0.35;
        const auto shade = static_cast<float>(vignette * (0.8 + 0.3 * noise.at<float>(y, x)) +
                                              0.05 * fine.at<float>(y, x));
        px[x] = base * shade + cv::Vec3f(1.0F, 0.9F, 0.6F) * static_cast<float>(disc);
      }
    }
    // Dark vessels: distractors as dark as the lesions.
    cv::Mat vessels = cv::Mat::zeros(size, size, CV_32F);
    const int trees = rng.integer(2, 5);
    for (int t = 0; t < trees; ++t) {
      draw_vessel_tree(rng, vessels, cv::Point2d(disc_x, disc_y), rng.uniform(0, 2 * kPi),
                       rng.uniform(2.0, 4.5), 3);
    }
    cv::GaussianBlur(vessels, vessels, cv::Size(0, 0), 0.8);
    blend(image, vessels * rng.uniform(0.55, 0.8), cv::Vec3f(0.35F, 0.06F, 0.05F));
    // Bright exudate-like spots: distractors as bright as some objects.
    cv::Mat spots = cv::Mat::zeros(size, size, CV_32F);
    const int n_spots = rng.integer(0, 6);
    for (int s = 0; s < n_spots; ++s) {
      cv::circle(spots, cv::Point(rng.integer(0, size - 1), rng.integer(0, size - 1)),
                 rng.integer(1, 4), cv::Scalar(1.0), cv::FILLED, cv::LINE_AA);
    }
    cv::GaussianBlur(spots, spots, cv::Size(0, 0), 1.0);
    blend(image, spots * 0.8, cv::Vec3f(0.95F, 0.85F, 0.45F));
  } else {
    // Pink stroma with fibres and purple smudges.
    const cv::Vec3f base(static_cast<float>(rng.uniform(0.85, 0.95)),
                         static_cast<float>(rng.uniform(0.62, 0.75)),
                         static_cast<float>(rng.uniform(0.75, 0.85)));
    const cv::Mat fibres = fractal_noise(rng, size, 48, 2);
    for (int y = 0; y < size; ++y) {
      auto* px = image.ptr<cv::Vec3f>(y);
      for (int x = 0; x < size; ++x) {
        const float shade = 0.78F + 0.22F * noise.at<float>(y, x) - 0.12F * fibres.at<float>(y, x);
        px[x] = base * shade;
      }
    }
    cv::Mat smudges = fractal_noise(rng, size, 6, 3);
    cv::threshold(smudges, smudges, rng.uniform(0.62, 0.75), 1.0, cv::THRESH_TOZERO);
    cv::GaussianBlur(smudges, smudges, cv::Size(0, 0), 2.0);
    cv::normalize(smudges, smudges, 0.0, rng.uniform(0.45, 0.75), cv::NORM_MINMAX);
    blend(image, smudges, cv::Vec3f(0.42F, 0.22F, 0.55F));
  }
  return image;
}

/// An irregular closed outline around (cx, cy) with mean radius r.
std::vector<cv::Point> blob(Rng& rng, double cx, double cy, double r, double aspect,
                            double roughness) {
  const int points = std::max(12, static_cast<int>(r * 2.5));
  const double rotation = rng.uniform(0, kPi);
  // Low-frequency radial perturbation: a few random harmonics.
  double a[4], phase[4];
  for (int h = 0; h < 4; ++h) {
    a[h] = rng.normal() * roughness / (h + 1);
    phase[h] = rng.uniform(0, 2 * kPi);
  }
  std::vector<cv::Point> outline;
  for (int i = 0; i < points; ++i) {
    const double t = 2 * kPi * i / points;
    double radius = r;
    for (int h = 0; h < 4; ++h) radius *= 1.0 + a[h] * std::sin((h + 2) * t + phase[h]);
    const double ex = radius * std::cos(t) * aspect, ey = radius * std::sin(t) / aspect;
    outline.emplace_back(
        static_cast<int>(std::lround(cx + ex * std::cos(rotation) - ey * std::sin(rotation))),
        static_cast<int>(std::lround(cy + ex * std::sin(rotation) + ey * std::cos(rotation))));
  }
  return outline;
}

struct Rendered {
  cv::Mat image;  // CV_32FC3 RGB
  cv::Mat mask;   // CV_8UC1 class indices
};

/// Tiny objects: at most this share of the image (0.1 %), at least a
/// tenth of it.
constexpr double kTinyMaxFraction = 0.001;
constexpr double kTinyMinFraction = 0.00012;

Rendered render(uint64_t seed, int size, DemoKind kind) {
  Rng rng(seed);
  Rendered out;
  const int style = rng.integer(0, 1);
  out.image = background(rng, size, style);
  out.mask = cv::Mat::zeros(size, size, CV_8UC1);
  const bool tiny = kind == DemoKind::kTiny;
  const int count = tiny ? (rng.chance(0.05) ? 0 : rng.integer(4, 14))
                         : (rng.chance(0.1) ? 0 : rng.integer(1, 12));
  const double image_area = static_cast<double>(size) * size;
  for (int o = 0; o < count; ++o) {
    const int cls = rng.chance(style == 0 ? 0.75 : 0.3) ? 1 : 2;
    // Standard: object area log-uniform between 0.02 % and 12 % of the
    // image, mostly small. Tiny: log-uniform over the tiny range.
    const double area_pct =
        tiny ? 100.0 * std::exp(rng.uniform(std::log(kTinyMinFraction), std::log(kTinyMaxFraction)))
             : std::pow(10.0, rng.uniform(-1.7, 1.08) * (rng.chance(0.6) ? 0.6 : 1.0) -
                                  (rng.chance(0.6) ? 0.4 : 0.0));
    const double r = std::sqrt(area_pct / 100.0 * image_area / kPi);
    const double cx = rng.uniform(r * 0.5, size - r * 0.5),
                 cy = rng.uniform(r * 0.5, size - r * 0.5);
    const double aspect = cls == 1 ? rng.uniform(0.7, 1.45) : rng.uniform(0.85, 1.2);
    const auto outline = blob(rng, cx, cy, std::max(1.2, r), aspect, cls == 1 ? 0.35 : 0.12);
    cv::Mat shape = cv::Mat::zeros(size, size, CV_8UC1);
    cv::fillPoly(shape, std::vector<std::vector<cv::Point>>{outline}, cv::Scalar(1));
    const int area = cv::countNonZero(shape);
    if (area == 0) continue;
    if (tiny) {
      // Exactly tiny, and apart from every other object (2 pixels at
      // least), so no two merge into a larger one.
      if (static_cast<double>(area) >= kTinyMaxFraction * image_area) continue;
      cv::Mat surroundings;
      cv::dilate(shape, surroundings, cv::getStructuringElement(cv::MORPH_ELLIPSE, cv::Size(5, 5)));
      if (cv::countNonZero(surroundings & (out.mask > 0)) > 0) continue;
    }
    out.mask.setTo(cls, shape);
    // Soft rendered edge (the mask stays exact), contrast and texture vary.
    cv::Mat alpha;
    shape.convertTo(alpha, CV_32F);
    const double edge = rng.uniform(0.4, 1.6);
    cv::GaussianBlur(alpha, alpha, cv::Size(0, 0), edge);
    const double contrast = rng.uniform(0.35, 0.95);
    const cv::Mat texture = fractal_noise(rng, size, cls == 1 ? 16 : 48, 2);
    cv::Mat weight = alpha.mul(contrast * (0.75 + 0.25 * texture));
    cv::Vec3f colour = cls == 1 ? cv::Vec3f(static_cast<float>(rng.uniform(0.45, 0.62)),
                                            static_cast<float>(rng.uniform(0.10, 0.2)),
                                            static_cast<float>(rng.uniform(0.06, 0.12)))
                                : cv::Vec3f(static_cast<float>(rng.uniform(0.22, 0.32)),
                                            static_cast<float>(rng.uniform(0.10, 0.18)),
                                            static_cast<float>(rng.uniform(0.38, 0.52)));
    blend(out.image, weight, colour);
    if (cls == 2 && r > 3) {
      // A paler rim, as around a nucleus.
      cv::Mat rim;
      cv::dilate(shape, rim, cv::getStructuringElement(cv::MORPH_ELLIPSE, cv::Size(5, 5)));
      rim -= shape;
      cv::Mat rim_alpha;
      rim.convertTo(rim_alpha, CV_32F, 0.35);
      blend(out.image, rim_alpha, cv::Vec3f(0.95F, 0.85F, 0.92F));
    }
  }
  // Acquisition: slight blur and sensor noise.
  cv::GaussianBlur(out.image, out.image, cv::Size(0, 0), rng.uniform(0.3, 1.0));
  // Our generator, not cv::randn: OpenCV's is per thread and not seeded by us.
  const auto sigma = static_cast<float>(rng.uniform(0.005, 0.025));
  for (int y = 0; y < size; ++y) {
    auto* px = out.image.ptr<cv::Vec3f>(y);
    for (int x = 0; x < size; ++x) {
      px[x] += cv::Vec3f(static_cast<float>(rng.normal()), static_cast<float>(rng.normal()),
                         static_cast<float>(rng.normal())) *
               sigma;
    }
  }
  cv::min(cv::max(out.image, 0.0), 1.0, out.image);
  return out;
}

}  // namespace

DemoKind parse_demo_kind(const std::string& text) {
  for (DemoKind k : {DemoKind::kStandard, DemoKind::kTiny}) {
    if (text == to_string(k)) return k;
  }
  SVANET_FAIL("unknown demo kind '", text, "' (valid: standard, tiny)");
}

const char* to_string(DemoKind kind) {
  return kind == DemoKind::kTiny ? "tiny" : "standard";
}

DemoSummary generate_demo_dataset(const std::string& out, const DemoOptions& options) {
  SVANET_CHECK(options.count >= 3, "demo-data: need at least 3 images, got ", options.count);
  SVANET_CHECK(options.size >= 32 && options.size <= 4096, "demo-data: size must be 32..4096, got ",
               options.size);
  namespace fs = std::filesystem;
  // Written as OUT/Demo.partial and renamed when complete: a failed,
  // refused or killed generation leaves no half-written set behind.
  utils::StagedFolder staged((fs::path(out) / "Demo").string(), options.overwrite,
                             "--overwrite replaces it, or choose another folder");
  const fs::path root(staged.path());
  for (const char* dir : {"train", "val", "test", "mask"})
    utils::create_folders((root / dir).string());
  DemoSummary summary;
  summary.folder = staged.out();
  const int64_t n_test =
      std::max<int64_t>(1, std::llround(static_cast<double>(options.count) * 0.15));
  const int64_t n_val = n_test;
  const int64_t n_train = options.count - n_test - n_val;
  std::vector<int> objects(static_cast<size_t>(options.count), 0);
  utils::parallel_for(options.count, [&](int64_t i) {
    {
      const uint64_t seed =
          options.seed * 0x100000001B3ULL + static_cast<uint64_t>(i) * 0x9E3779B97F4A7C15ULL;
      Rendered r = render(seed, static_cast<int>(options.size), options.kind);
      const char* split = i < n_train ? "train" : (i < n_train + n_val ? "val" : "test");
      char stem[32];
      std::snprintf(stem, sizeof(stem), "demo_%04lld", static_cast<long long>(i));
      cv::Mat bgr8;
      cv::Mat rgb8;
      r.image.convertTo(rgb8, CV_8UC3, 255.0);
      cv::cvtColor(rgb8, bgr8, cv::COLOR_RGB2BGR);
      write_mat((root / split / (std::string(stem) + ".png")).string(), bgr8);
      write_palette_png((root / "mask" / (std::string(stem) + ".png")).string(), r.mask,
                        voc_palette());
      // Counted as data-stats counts them: drawn objects that touch are one.
      objects[static_cast<size_t>(i)] =
          static_cast<int>(find_objects(cv_to_tensor_u8(r.mask)).size());
    }
  });
  summary.train = n_train;
  summary.val = n_val;
  summary.test = n_test;
  for (int o : objects) {
    summary.objects += o;
    summary.empty_images += o == 0 ? 1 : 0;
  }
  staged.commit();
  return summary;
}

}  // namespace svanet::data
