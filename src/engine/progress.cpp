#include "engine/progress.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace svanet::engine {

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "--:--";
  const auto total = static_cast<int64_t>(std::lround(seconds));
  char buffer[32];
  if (total >= 3600) {
    std::snprintf(buffer, sizeof(buffer), "%lld:%02lld:%02lld",
                  static_cast<long long>(total / 3600), static_cast<long long>(total / 60 % 60),
                  static_cast<long long>(total % 60));
  } else {
    std::snprintf(buffer, sizeof(buffer), "%02lld:%02lld", static_cast<long long>(total / 60),
                  static_cast<long long>(total % 60));
  }
  return buffer;
}

Progress::Progress(std::string title, int64_t total, bool bar, double interval_s,
                   std::function<void(const std::string&)> line)
    : title_(std::move(title)),
      total_(std::max<int64_t>(1, total)),
      bar_(bar),
      interval_s_(interval_s),
      line_(std::move(line)),
      start_(std::chrono::steady_clock::now()),
      last_line_(start_) {}

double Progress::seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

double Progress::images_per_second() const {
  const double s = seconds();
  return s > 0 ? static_cast<double>(images_) / s : 0.0;
}

std::string Progress::render(bool for_bar) const {
  const double fraction = static_cast<double>(steps_) / static_cast<double>(total_);
  const double elapsed = seconds();
  const double eta =
      steps_ > 0 ? elapsed / static_cast<double>(steps_) * static_cast<double>(total_ - steps_)
                 : NAN;
  char loss[64] = "";
  if (!std::isnan(last_loss_)) {
    std::snprintf(loss, sizeof(loss), "  loss %.4f (mean %.4f)", last_loss_, mean_loss());
  }
  char stats[192];
  std::snprintf(stats, sizeof(stats), "%lld/%lld%s  %.1f img/s  ETA %s",
                static_cast<long long>(steps_), static_cast<long long>(total_), loss,
                images_per_second(), format_duration(eta).c_str());
  if (!for_bar) return title_ + ": " + stats;
  constexpr int kWidth = 24;
  const int filled = static_cast<int>(std::floor(fraction * kWidth));
  std::string bar = "[";
  for (int i = 0; i < kWidth; ++i) bar += i < filled ? '#' : (i == filled ? '>' : '.');
  bar += "]";
  return title_ + " " + bar + " " + stats;
}

void Progress::step(int64_t images, double loss) {
  if (!std::isnan(loss)) {
    ++loss_steps_;
    loss_sum_ += loss;
    last_loss_ = loss;
  }
  step(images);
}

void Progress::add_losses(int64_t steps, double sum) {
  if (steps <= 0) return;
  loss_steps_ += steps;
  loss_sum_ += sum;
  last_loss_ = sum / static_cast<double>(steps);
}

void Progress::step(int64_t images) {
  ++steps_;
  images_ += images;
  if (bar_) {
    std::fprintf(stderr, "\r%s\033[K", render(true).c_str());
    std::fflush(stderr);
    return;
  }
  const auto now = std::chrono::steady_clock::now();
  if (std::chrono::duration<double>(now - last_line_).count() >= interval_s_ && steps_ < total_) {
    last_line_ = now;
    if (line_) line_(render(false));
  }
}

void Progress::finish() {
  if (bar_) {
    std::fprintf(stderr, "\r\033[K");
    std::fflush(stderr);
  }
}

}  // namespace svanet::engine
