#pragma once
/// @file
/// Pixel counts of one class in one case, and the ratio metrics computed
/// from them. Ignored pixels (label 255) are never counted.
///
/// Undefined ratios are NaN, never a made-up 0 or 1: a ratio whose
/// denominator is zero is NaN. Dice and IoU are therefore NaN only when the
/// class is absent from both prediction and ground truth, and 0 when it is
/// in one of them only (a missed object or a false alarm).

#include <cstdint>

namespace svanet::metrics {

/// Confusion counts of one class (one-vs-rest) over the labelled pixels.
struct Counts {
  int64_t tp = 0, fp = 0, fn = 0, tn = 0;

  int64_t ground_truth() const { return tp + fn; }
  int64_t predicted() const { return tp + fp; }
  int64_t total() const { return tp + fp + fn + tn; }
  Counts& operator+=(const Counts& o) {
    tp += o.tp;
    fp += o.fp;
    fn += o.fn;
    tn += o.tn;
    return *this;
  }
  bool operator==(const Counts& o) const {
    return tp == o.tp && fp == o.fp && fn == o.fn && tn == o.tn;
  }
};

/// 2 TP / (2 TP + FP + FN).
double dice(const Counts& c);
/// TP / (TP + FP + FN).
double iou(const Counts& c);
/// TP / (TP + FP): NaN when nothing was predicted.
double precision(const Counts& c);
/// TP / (TP + FN): NaN when the class is absent from the ground truth.
double recall(const Counts& c);
/// TN / (TN + FP).
double specificity(const Counts& c);
/// (1 + b^2) TP / ((1 + b^2) TP + b^2 FN + FP); b = 2 weighs recall four
/// times as much as precision (the paper's F2).
double f_beta(const Counts& c, double beta);

/// numerator / denominator, NaN when the denominator is 0.
double ratio(double numerator, double denominator);

}  // namespace svanet::metrics
