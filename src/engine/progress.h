#pragma once
// Progress of one epoch (private to the library): a live bar on a terminal,
// or a plain line every few seconds when the output is a file or a pipe.

#include <chrono>
#include <cmath>
#include <cstdint>
#include <functional>
#include <string>

namespace svanet::engine {

class Progress {
 public:
  /// `bar`: redraw a bar in place (stderr is a terminal); otherwise `line`
  /// receives a summary every `interval_s` seconds.
  Progress(std::string title, int64_t total, bool bar, double interval_s,
           std::function<void(const std::string&)> line);
  /// One more step of `images` images with this loss (NaN: no loss shown).
  void step(int64_t images, double loss);
  /// One more step whose loss is not known yet (a GPU's losses are read in
  /// groups: add_losses).
  void step(int64_t images);
  /// The summed loss of the last `steps` steps (the bar shows their mean).
  void add_losses(int64_t steps, double sum);
  /// Clears the bar (the caller logs the epoch's summary line next).
  void finish();

  double mean_loss() const {
    return loss_steps_ > 0 ? loss_sum_ / static_cast<double>(loss_steps_) : 0.0;
  }
  double images_per_second() const;
  double seconds() const;

 private:
  std::string render(bool for_bar) const;

  std::string title_;
  int64_t total_;
  bool bar_;
  double interval_s_;
  std::function<void(const std::string&)> line_;
  std::chrono::steady_clock::time_point start_, last_line_;
  int64_t steps_ = 0, images_ = 0, loss_steps_ = 0;
  double loss_sum_ = 0.0, last_loss_ = NAN;
};

/// "1:02:03" or "02:03".
std::string format_duration(double seconds);

}  // namespace svanet::engine
