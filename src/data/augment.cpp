#include "svanet/data/augment.h"

#include "data/augment_impl.h"
#include "data/cv_io.h"
#include "svanet/common/error.h"
#include "svanet/data/image_io.h"
#include "svanet/utils/components.h"

#include <torch/torch.h>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <functional>
#include <optional>

namespace svanet::data {

struct Transform::Impl {
  std::vector<std::function<void(cv::Mat&, cv::Mat&, utils::Rng&)>> steps;
};

namespace {

using Step = std::function<void(cv::Mat&, cv::Mat&, utils::Rng&)>;

void resize_pair(cv::Mat& image, cv::Mat& mask, int width, int height) {
  if (image.cols == width && image.rows == height) return;
  cv::resize(image, image, cv::Size(width, height), 0, 0, cv::INTER_CUBIC);
  // NEAREST_EXACT samples pixel centres like the cubic image resize (and
  // PIL); plain INTER_NEAREST would shift the mask by half a pixel.
  cv::resize(mask, mask, cv::Size(width, height), 0, 0, cv::INTER_NEAREST_EXACT);
  // Bicubic overshoots; keep values in range.
  cv::min(cv::max(image, 0.0), 1.0, image);
}

/// Official RandomShortSizeResize: short side S uniform in [min, max]
/// (integers), scale min(S / short, max_long / long), sizes truncated.
Step short_side_resize(int min_short, int max_short, int max_long) {
  return [=](cv::Mat& image, cv::Mat& mask, utils::Rng& rng) {
    const int target = rng.integer(min_short, max_short);
    const int short_side = std::min(image.rows, image.cols);
    const int long_side = std::max(image.rows, image.cols);
    const double scale = std::min(static_cast<double>(target) / short_side,
                                  static_cast<double>(max_long) / long_side);
    const int width = std::max(1, static_cast<int>(image.cols * scale));
    const int height = std::max(1, static_cast<int>(image.rows * scale));
    resize_pair(image, mask, width, height);
  };
}

Step horizontal_flip(double p) {
  return [=](cv::Mat& image, cv::Mat& mask, utils::Rng& rng) {
    if (!rng.chance(p)) return;
    cv::flip(image, image, 1);
    cv::flip(mask, mask, 1);
  };
}

/// The top-left corner of a crop on an object drawn by `sampling`, or
/// nothing when the mask has no object.
std::optional<cv::Point> object_window(const cv::Mat& mask, int size,
                                       const ObjectSampling& sampling, utils::Rng& rng) {
  const cv::Mat m = mask.isContinuous() ? mask : mask.clone();
  // Every class value 1..254 (255 is ignore); from_blob reads m in place.
  const auto objects = utils::label_objects(
      torch::from_blob(m.data, {m.rows, m.cols}, torch::kByte), kIgnoreIndex, kIgnoreIndex);
  if (objects.count() == 0) return std::nullopt;
  const auto weights = object_weights(objects.area, sampling);
  double total = 0;
  for (const double w : weights) total += w;
  double u = rng.uniform(0.0, total);
  int64_t chosen = objects.count() - 1;
  for (int64_t k = 0; k < objects.count(); ++k) {
    u -= weights[static_cast<size_t>(k)];
    if (u < 0) {
      chosen = k;
      break;
    }
  }
  // The r-th pixel of the object in raster order.
  int64_t r = rng.integer(0, static_cast<int>(objects.area[static_cast<size_t>(chosen)]) - 1);
  const int64_t* ids = objects.ids.data_ptr<int64_t>();
  int64_t at = 0;
  for (; at < objects.ids.numel(); ++at) {
    if (ids[at] == chosen + 1 && r-- == 0) break;
  }
  const int px = static_cast<int>(at % m.cols), py = static_cast<int>(at / m.cols);
  // The pixel at a uniform place of the crop's central half.
  const int ox = rng.integer(size / 4, size - size / 4 - 1);
  const int oy = rng.integer(size / 4, size - size / 4 - 1);
  return cv::Point(std::clamp(px - ox, 0, m.cols - size), std::clamp(py - oy, 0, m.rows - size));
}

/// Official RandomCrop(size, pad_if_needed, fill=255): a side shorter than
/// `size` is padded by the shortfall on both ends (image white, mask ignore),
/// then a size x size window is taken at a uniform offset, or, for a share
/// of the crops, on an object (ObjectSampling).
Step random_crop(int size, const ObjectSampling& sampling) {
  return [=](cv::Mat& image, cv::Mat& mask, utils::Rng& rng) {
    const int pad_x = std::max(0, size - image.cols);
    const int pad_y = std::max(0, size - image.rows);
    if (pad_x > 0 || pad_y > 0) {
      cv::copyMakeBorder(image, image, pad_y, pad_y, pad_x, pad_x, cv::BORDER_CONSTANT,
                         cv::Scalar::all(1.0));
      cv::copyMakeBorder(mask, mask, pad_y, pad_y, pad_x, pad_x, cv::BORDER_CONSTANT,
                         cv::Scalar::all(static_cast<double>(kIgnoreIndex)));
    }
    std::optional<cv::Point> corner;
    if (sampling.object_share > 0 && rng.chance(sampling.object_share)) {
      corner = object_window(mask, size, sampling, rng);
    }
    if (!corner) {
      const int x = rng.integer(0, image.cols - size);
      const int y = rng.integer(0, image.rows - size);
      corner = cv::Point(x, y);
    }
    const cv::Rect window(corner->x, corner->y, size, size);
    image = image(window).clone();
    mask = mask(window).clone();
  };
}

/// Gaussian blur of the image with a standard deviation uniform in [0, max).
Step gaussian_blur(double p, double max_radius) {
  return [=](cv::Mat& image, cv::Mat& /*mask*/, utils::Rng& rng) {
    if (!rng.chance(p)) return;
    const double sigma = rng.uniform(0.0, max_radius);
    if (sigma < 1e-3) return;
    cv::GaussianBlur(image, image, cv::Size(0, 0), sigma, sigma, cv::BORDER_REFLECT);
  };
}

cv::Mat grayscale(const cv::Mat& rgb) {
  cv::Mat gray;
  cv::cvtColor(rgb, gray, cv::COLOR_RGB2GRAY);
  return gray;
}

/// Blends `image` with `other` (same size, or a scalar) as torchvision's
/// adjust_* do: factor * image + (1 - factor) * other, clipped to [0, 1].
void blend(cv::Mat& image, const cv::Mat& other, double factor) {
  cv::addWeighted(image, factor, other, 1.0 - factor, 0.0, image);
  cv::min(cv::max(image, 0.0), 1.0, image);
}

void adjust_contrast(cv::Mat& image, double factor) {
  const double mean = cv::mean(grayscale(image))[0];
  cv::Mat flat(image.size(), image.type(), cv::Scalar::all(mean));
  blend(image, flat, factor);
}

void adjust_saturation(cv::Mat& image, double factor) {
  cv::Mat gray3;
  cv::cvtColor(grayscale(image), gray3, cv::COLOR_GRAY2RGB);
  blend(image, gray3, factor);
}

void adjust_hue(cv::Mat& image, double shift) {
  // OpenCV's float HSV has H in degrees [0, 360).
  cv::Mat hsv;
  cv::cvtColor(image, hsv, cv::COLOR_RGB2HSV);
  const auto degrees = static_cast<float>(shift * 360.0);
  for (int y = 0; y < hsv.rows; ++y) {
    auto* px = hsv.ptr<cv::Vec3f>(y);
    for (int x = 0; x < hsv.cols; ++x) {
      float h = px[x][0] + degrees;
      h = std::fmod(h, 360.0F);
      px[x][0] = h < 0 ? h + 360.0F : h;
    }
  }
  cv::cvtColor(hsv, image, cv::COLOR_HSV2RGB);
  cv::min(cv::max(image, 0.0), 1.0, image);
}

/// Official PhotometricDistort: brightness, contrast (before or after
/// saturation and hue, chosen at random), saturation, hue, channel
/// permutation; each with probability p.
Step photometric(const AugmentOptions& o) {
  return [=](cv::Mat& image, cv::Mat& /*mask*/, utils::Rng& rng) {
    const double p = o.photometric;
    if (rng.chance(p)) {
      image *= rng.uniform(1.0 - o.brightness, 1.0 + o.brightness);
      cv::min(cv::max(image, 0.0), 1.0, image);
    }
    const bool contrast_first = rng.chance(0.5);
    const bool contrast = rng.chance(p);
    if (contrast_first && contrast)
      adjust_contrast(image, rng.uniform(1.0 - o.contrast, 1.0 + o.contrast));
    if (rng.chance(p))
      adjust_saturation(image, rng.uniform(1.0 - o.saturation, 1.0 + o.saturation));
    if (rng.chance(p)) adjust_hue(image, rng.uniform(-o.hue, o.hue));
    if (!contrast_first && contrast)
      adjust_contrast(image, rng.uniform(1.0 - o.contrast, 1.0 + o.contrast));
    if (rng.chance(o.channel_shuffle)) {
      std::vector<int> order{0, 1, 2};
      rng.shuffle(order);
      std::vector<cv::Mat> planes;
      cv::split(image, planes);
      cv::merge(std::vector<cv::Mat>{planes[static_cast<size_t>(order[0])],
                                     planes[static_cast<size_t>(order[1])],
                                     planes[static_cast<size_t>(order[2])]},
                image);
    }
  };
}

/// Official RandomRotation: angle uniform in [-d, d], about the centre,
/// same size; image bilinear with black corners, mask nearest with ignore.
Step rotation(double degrees, double p) {
  return [=](cv::Mat& image, cv::Mat& mask, utils::Rng& rng) {
    if (!rng.chance(p)) return;
    const double angle = rng.uniform(-degrees, degrees);
    if (std::abs(angle) < 1e-9) return;
    const cv::Point2f centre(static_cast<float>(image.cols - 1) / 2.0F,
                             static_cast<float>(image.rows - 1) / 2.0F);
    const cv::Mat m = cv::getRotationMatrix2D(centre, angle, 1.0);
    cv::warpAffine(image, image, m, image.size(), cv::INTER_LINEAR, cv::BORDER_CONSTANT,
                   cv::Scalar::all(0.0));
    cv::warpAffine(mask, mask, m, mask.size(), cv::INTER_NEAREST, cv::BORDER_CONSTANT,
                   cv::Scalar::all(static_cast<double>(kIgnoreIndex)));
  };
}

Step normalize(const Normalization& n) {
  SVANET_CHECK(n.mode == "imagenet" || n.mode == "reference" || n.mode == "custom",
               "normalisation mode must be imagenet, reference or custom, got '", n.mode, "'");
  if (n.mode == "reference") {
    return [](cv::Mat&, cv::Mat&, utils::Rng&) {};
  }
  SVANET_CHECK(n.mean.size() == 3 && n.std.size() == 3,
               "normalisation needs 3 means and 3 standard deviations");
  for (double s : n.std)
    SVANET_CHECK(s > 0.0, "normalisation standard deviations must be positive");
  const cv::Scalar mean(n.mean[0], n.mean[1], n.mean[2]);
  const cv::Scalar inv_std(1.0 / n.std[0], 1.0 / n.std[1], 1.0 / n.std[2]);
  return [=](cv::Mat& image, cv::Mat&, utils::Rng&) {
    cv::subtract(image, mean, image);
    cv::multiply(image, inv_std, image);
  };
}

}  // namespace

std::vector<double> object_weights(const std::vector<int64_t>& areas,
                                   const ObjectSampling& sampling) {
  SVANET_CHECK(sampling.weighting == "uniform" || sampling.weighting == "inverse_area",
               "sampling.weighting must be uniform or inverse_area, got '", sampling.weighting,
               "'");
  SVANET_CHECK(sampling.weight_cap >= 1, "sampling.weight_cap must be >= 1, got ",
               sampling.weight_cap);
  std::vector<double> weights(areas.size(), 1.0);
  if (sampling.weighting == "uniform" || areas.empty()) return weights;
  const double largest = static_cast<double>(*std::max_element(areas.begin(), areas.end()));
  const double floor = largest / sampling.weight_cap;
  for (size_t k = 0; k < areas.size(); ++k) {
    weights[k] = 1.0 / std::max(static_cast<double>(areas[k]), floor);
  }
  return weights;
}

Transform Transform::train(const AugmentOptions& o, const Normalization& n) {
  SVANET_CHECK(o.size >= 16, "augmentation size must be >= 16, got ", o.size);
  auto impl = std::make_shared<Impl>();
  const auto size = static_cast<int>(o.size);
  if (o.resize_max_scale > 0.0) {
    SVANET_CHECK(o.resize_min_scale > 0.0 && o.resize_min_scale <= o.resize_max_scale,
                 "resize scales must satisfy 0 < min <= max");
    impl->steps.push_back(
        short_side_resize(static_cast<int>(std::lround(o.resize_min_scale * size)),
                          static_cast<int>(std::lround(o.resize_max_scale * size)),
                          static_cast<int>(std::lround(o.resize_max_long * size))));
  }
  if (o.hflip > 0.0) impl->steps.push_back(horizontal_flip(o.hflip));
  const auto& s = o.sampling;
  SVANET_CHECK(s.object_share >= 0 && s.object_share <= 1,
               "sampling.object_share must be in [0, 1], got ", s.object_share);
  SVANET_CHECK(s.object_share == 0 || o.crop, "sampling.object_share needs augment.crop");
  (void)object_weights({}, s);  // checks weighting and weight_cap
  if (o.crop) impl->steps.push_back(random_crop(size, s));
  if (o.blur > 0.0) impl->steps.push_back(gaussian_blur(o.blur, o.blur_max_radius));
  if (o.photometric > 0.0 || o.channel_shuffle > 0.0) impl->steps.push_back(photometric(o));
  if (o.rotation_degrees > 0.0 && o.rotation_p > 0.0)
    impl->steps.push_back(rotation(o.rotation_degrees, o.rotation_p));
  impl->steps.push_back(normalize(n));
  return Transform(impl);
}

Transform Transform::eval(int64_t size, const Normalization& n) {
  auto impl = std::make_shared<Impl>();
  if (size > 0) {
    const auto s = static_cast<int>(size);
    impl->steps.emplace_back(
        [s](cv::Mat& image, cv::Mat& mask, utils::Rng&) { resize_pair(image, mask, s, s); });
  }
  impl->steps.push_back(normalize(n));
  return Transform(impl);
}

void apply_transform(const Transform& transform, cv::Mat& image, cv::Mat& mask, utils::Rng& rng) {
  for (const auto& step : transform.impl().steps) step(image, mask, rng);
}

std::pair<torch::Tensor, torch::Tensor> Transform::operator()(const torch::Tensor& image,
                                                              const torch::Tensor& mask,
                                                              uint64_t seed) const {
  TORCH_CHECK(image.dim() == 3 && image.size(0) == 3 && image.scalar_type() == torch::kFloat,
              "Transform: expected a (3, H, W) float32 image, got ", image.sizes());
  TORCH_CHECK(mask.dim() == 2 && mask.scalar_type() == torch::kByte &&
                  mask.size(0) == image.size(1) && mask.size(1) == image.size(2),
              "Transform: expected an (H, W) uint8 mask matching the image, got ", mask.sizes());
  // (3, H, W) -> (H, W, 3)
  auto hwc = image.permute({1, 2, 0}).contiguous();
  cv::Mat img(static_cast<int>(hwc.size(0)), static_cast<int>(hwc.size(1)), CV_32FC3,
              hwc.data_ptr<float>());
  cv::Mat image_mat = img.clone();
  auto mask_contiguous = mask.contiguous();
  cv::Mat mask_mat = tensor_to_cv_u8(mask_contiguous).clone();
  utils::Rng rng(seed);
  apply_transform(*this, image_mat, mask_mat, rng);
  return {cv_to_tensor_chw(image_mat), cv_to_tensor_u8(mask_mat)};
}

}  // namespace svanet::data
