#include "engine/run_files.h"

#include "data/cv_io.h"
#include "svanet/common/error.h"
#include "svanet/metrics/registry.h"
#include "svanet/utils/atomic_file.h"
#include "svanet/utils/text.h"
#include "svanet/version.h"
#include "utils/json_number.h"
#include "utils/plot.h"

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>

#include <cmath>
#include <cstdio>
#include <iomanip>
#include <sstream>

namespace svanet::engine {

namespace {

constexpr const char* kRunStateVersion = "run_state_version";

}  // namespace

void RunState::write(io::TrainingState& out) const {
  out.epoch = next.epoch - 1;
  out.values[kRunStateVersion] = static_cast<double>(version);
  out.values["next_epoch"] = static_cast<double>(next.epoch);
  out.values["next_batch"] = static_cast<double>(next.batch);
  out.values["partial_loss_sum"] = partial.loss_sum;
  out.values["partial_steps"] = static_cast<double>(partial.steps);
  out.values["partial_images"] = static_cast<double>(partial.images);
  out.values["partial_seconds"] = partial.seconds;
  out.values["best_value"] = best_value;
  out.values["best_epoch"] = static_cast<double>(best_epoch);
  out.values["scaler_scale"] = scaler_scale;
  out.values["scaler_growth"] = static_cast<double>(scaler_growth);
  out.texts["history"] = history_to_json(history);
  out.texts["select_metric"] = select_metric;
  out.texts["model"] = model;
  out.texts["seed"] = seed;
}

RunState RunState::read(const io::TrainingState& in, const std::string& path) {
  auto number = [&](const char* key) {
    const auto it = in.values.find(key);
    SVANET_CHECK(it != in.values.end(), path, ": the training state has no '", key,
                 "' (not a state written by svanet's trainer, or a damaged one)");
    return it->second;
  };
  auto integer = [&](const char* key) {
    const double v = number(key);
    SVANET_CHECK(std::isfinite(v) && v == std::floor(v), path, ": the training state's '", key,
                 "' is not a whole number (", v, ")");
    return static_cast<int64_t>(v);
  };
  auto text = [&](const char* key) {
    const auto it = in.texts.find(key);
    SVANET_CHECK(it != in.texts.end(), path, ": the training state has no '", key,
                 "' (not a state written by svanet's trainer, or a damaged one)");
    return it->second;
  };
  RunState s;
  s.version = in.values.count(kRunStateVersion) ? integer(kRunStateVersion) : 1;
  SVANET_CHECK(s.version >= 1 && s.version <= kVersion, path, ": training state version ",
               s.version, " is not supported by svanet ", SVANET_VERSION, " (reads 1 to ", kVersion,
               ")");
  s.next = {integer("next_epoch"), integer("next_batch")};
  s.partial.loss_sum = number("partial_loss_sum");
  s.partial.steps = integer("partial_steps");
  s.partial.images = integer("partial_images");
  s.partial.seconds = number("partial_seconds");
  s.best_value = number("best_value");
  s.best_epoch = integer("best_epoch");
  s.scaler_scale = number("scaler_scale");
  s.scaler_growth = integer("scaler_growth");
  try {
    s.history = history_from_json(text("history"));
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    SVANET_FAIL(path, ": the training state's history cannot be read: ", e.what());
  }
  s.select_metric = text("select_metric");
  for (auto [key, field] : {std::pair{"model", &s.model}, std::pair{"seed", &s.seed}}) {
    const auto it = in.texts.find(key);
    if (it != in.texts.end()) *field = it->second;
  }
  if (s.version < 2) {
    // svanet 0.1 kept the reference metrics x 100.
    for (auto& record : s.history) metrics::convert_legacy_percentages(record.val);
    std::map<std::string, double> best{{s.select_metric, s.best_value}};
    metrics::convert_legacy_percentages(best);
    s.best_value = best.at(s.select_metric);
    s.version = kVersion;
  }
  return s;
}

namespace {

using nlohmann::json;

using utils::csv_number;
using utils::json_number;

std::string fixed(double v, int digits) {
  if (!std::isfinite(v)) return "n/a";
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.*f", digits, v);
  return buffer;
}

/// How a log line and a chart name the validation metric `name`.
std::string label_of(const std::string& name) {
  if (name == "val_loss") return "val loss";
  return metrics::metric_registry().contains(name)
             ? "val " + metrics::metric_title(metrics::metric(name), "px")
             : name;
}

/// `value` of `name` with its metric's decimals (the loss with 4).
std::string value_text(const std::string& name, double value) {
  if (name != "val_loss" && metrics::metric_registry().contains(name)) {
    return metrics::format_metric(metrics::metric(name), value);
  }
  return fixed(value, 4);
}

}  // namespace

std::string history_to_json(const std::vector<EpochRecord>& history) {
  json all = json::array();
  for (const auto& r : history) {
    json val = json::object();
    for (const auto& [k, v] : r.val) val[k] = json_number(v);
    all.push_back({{"epoch", r.epoch},
                   {"lr", r.lr},
                   {"train_loss", json_number(r.train_loss)},
                   {"val_loss", json_number(r.val_loss)},
                   {"val", val},
                   {"seconds", r.seconds},
                   {"images_per_second", r.images_per_second},
                   {"frozen_encoder", r.frozen_encoder},
                   {"best", r.best}});
  }
  return all.dump();
}

std::vector<EpochRecord> history_from_json(const std::string& text) {
  std::vector<EpochRecord> out;
  try {
    for (const auto& j : json::parse(text)) {
      EpochRecord r;
      r.epoch = j.at("epoch").get<int64_t>();
      r.lr = j.at("lr").get<double>();
      r.train_loss = json_number(j.at("train_loss"));
      r.val_loss = json_number(j.at("val_loss"));
      for (const auto& [k, v] : j.at("val").items()) r.val[k] = json_number(v);
      r.seconds = j.at("seconds").get<double>();
      r.images_per_second = j.at("images_per_second").get<double>();
      r.frozen_encoder = j.at("frozen_encoder").get<bool>();
      r.best = j.at("best").get<bool>();
      out.push_back(r);
    }
  } catch (const json::exception& e) {
    SVANET_FAIL("the training history in the saved state is corrupt: ", e.what());
  }
  return out;
}

std::string metrics_csv(const std::vector<EpochRecord>& history) {
  std::ostringstream csv;
  csv << "epoch,lr,train_loss,val_loss";
  const auto names = metrics::metric_registry().names();
  for (const auto& name : names) csv << ",val_" << name;
  csv << ",seconds,images_per_s,frozen_encoder,best\n";
  for (const auto& r : history) {
    csv << r.epoch + 1 << ',' << csv_number(r.lr) << ',' << csv_number(r.train_loss) << ','
        << csv_number(r.val_loss);
    for (const auto& name : names) {
      const auto it = r.val.find(name);
      csv << ',' << (it == r.val.end() ? "" : csv_number(it->second));
    }
    csv << ',' << csv_number(r.seconds) << ',' << csv_number(r.images_per_second) << ','
        << (r.frozen_encoder ? 1 : 0) << ',' << (r.best ? 1 : 0) << '\n';
  }
  return csv.str();
}

void write_progress_png(const std::string& path, const std::vector<EpochRecord>& history,
                        const std::string& select_metric) {
  namespace plot = utils::plot;
  auto get = [](const EpochRecord& r, const std::string& key) {
    if (key == "val_loss") return r.val_loss;
    const auto it = r.val.find(key);
    return it == r.val.end() ? std::numeric_limits<double>::quiet_NaN() : it->second;
  };
  std::vector<double> x, train, val, lr, seconds, selected, best_x, best_y;
  for (const auto& r : history) {
    x.push_back(static_cast<double>(r.epoch + 1));
    train.push_back(r.train_loss);
    val.push_back(r.val_loss);
    lr.push_back(r.lr);
    seconds.push_back(r.seconds);
    selected.push_back(get(r, select_metric));
    if (r.best) {
      best_x.push_back(x.back());
      best_y.push_back(selected.back());
    }
  }
  // Validation runs only on some epochs: draw those as dots joined by lines.
  auto validated = [](const std::vector<double>& xs, const std::vector<double>& ys) {
    plot::Series s;
    for (size_t i = 0; i < xs.size(); ++i) {
      if (std::isfinite(ys[i])) {
        s.x.push_back(xs[i]);
        s.y.push_back(ys[i]);
      }
    }
    s.markers = s.x.size() < 30;
    return s;
  };
  // A fraction is drawn on a right axis from 0 to 1; the loss, or a
  // distance, on an axis of its own range.
  const bool fraction =
      select_metric != "val_loss" && metrics::metric_registry().contains(select_metric) &&
      metrics::metric(select_metric).traits.unit == metrics::MetricUnit::kFraction;
  plot::Series s_train{"train loss", x, train, plot::colour::kBlue};
  plot::Series s_val = validated(x, val);
  s_val.label = "val loss";
  s_val.colour = plot::colour::kRed;
  plot::Series s_sel = validated(x, selected);
  s_sel.label = label_of(select_metric);
  s_sel.colour = plot::colour::kGreen;
  s_sel.right_axis = select_metric != "val_loss";
  plot::Series s_best{"best so far", best_x, best_y, plot::colour::kOrange};
  s_best.markers = true;
  s_best.right_axis = s_sel.right_axis;
  s_best.dashed = true;
  plot::Axes losses;
  losses.title = "Loss and the metric that selects the best checkpoint";
  losses.x_label = "epoch";
  losses.integer_x = true;
  losses.y_label = "loss";
  losses.y2_label = label_of(select_metric);
  losses.y2_min = 0.0;
  if (fraction) losses.y2_max = 1.0;
  // A validation loss that spikes early (a few random-init epochs) would
  // flatten everything else: the axis stops at 1.5 x the largest training
  // loss, and higher points are drawn at its top.
  double train_max = 0.0;
  for (const double v : train) {
    if (std::isfinite(v)) train_max = std::max(train_max, v);
  }
  losses.y_min = 0.0;
  if (train_max > 0) losses.y_max = 1.5 * train_max;
  const cv::Mat top = plot::line_chart(losses, {s_train, s_val, s_sel, s_best}, 900, 320);

  // The featured fractions, every one a line.
  std::vector<plot::Series> featured;
  for (const metrics::Metric* m : metrics::featured_metrics()) {
    if (m->traits.unit != metrics::MetricUnit::kFraction) continue;
    std::vector<double> values;
    values.reserve(history.size());
    for (const auto& r : history) values.push_back(get(r, m->name));
    plot::Series series = validated(x, values);
    series.label = m->traits.label;
    series.colour = plot::series_colour(featured.size());
    series.dashed = m->traits.scope == metrics::MetricScope::kReference;
    featured.push_back(std::move(series));
  }
  plot::Axes val_axes;
  val_axes.title = "Validation metrics";
  val_axes.x_label = "epoch";
  val_axes.integer_x = true;
  val_axes.y_label = "score";
  val_axes.y_min = 0.0;
  val_axes.y_max = 1.0;
  val_axes.legend_right = true;
  const cv::Mat middle = plot::line_chart(val_axes, featured, 900, 300);

  plot::Series s_lr{"learning rate", x, lr, plot::colour::kPurple};
  s_lr.markers = x.size() < 30;
  plot::Series s_time{"seconds per epoch", x, seconds, plot::colour::kGray};
  s_time.right_axis = true;
  plot::Axes lr_axes;
  lr_axes.title = "Learning rate (log scale) and epoch time";
  lr_axes.x_label = "epoch";
  lr_axes.integer_x = true;
  lr_axes.y_label = "learning rate";
  lr_axes.y2_label = "seconds";
  lr_axes.log_y = true;
  lr_axes.y2_min = 0.0;
  const cv::Mat bottom = plot::line_chart(lr_axes, {s_lr, s_time}, 900, 240);
  data::write_mat(path, plot::stack_vertical({top, middle, bottom}));
}

std::string epoch_line(const EpochRecord& r, int64_t epochs, const std::string& select_metric,
                       double best_value, int64_t best_epoch) {
  std::ostringstream line;
  line << "epoch " << r.epoch + 1 << "/" << epochs << "  lr " << std::setprecision(3)
       << std::scientific << r.lr << std::defaultfloat << "  train loss " << fixed(r.train_loss, 4);
  if (!r.val.empty()) {
    line << "  val loss " << fixed(r.val_loss, 4);
    // The selection metric, then the first featured ones.
    std::vector<std::string> shown;
    if (select_metric != "val_loss") shown.push_back(select_metric);
    for (const metrics::Metric* m : metrics::featured_metrics()) {
      if (shown.size() >= 4) break;
      if (m->name != select_metric) shown.push_back(m->name);
    }
    for (const auto& name : shown) {
      const auto it = r.val.find(name);
      line << "  " << metrics::metric(name).traits.label << " "
           << value_text(name, it == r.val.end() ? std::nan("") : it->second);
    }
    line << "  best " << label_of(select_metric) << " " << value_text(select_metric, best_value)
         << " (epoch " << best_epoch + 1 << ")" << (r.best ? " *" : "");
  }
  line << "  " << fixed(r.seconds, 1) << " s, " << fixed(r.images_per_second, 1) << " img/s"
       << (r.frozen_encoder ? "  [encoder frozen]" : "");
  return line.str();
}

std::string test_line(const metrics::Summary& s, const std::string& out_dir) {
  std::ostringstream line;
  line << s.cases
       << " cases: " << metrics::featured_text(metrics::headline(s), s.options.distance_unit);
  if (const metrics::ObjectBin* all = metrics::all_objects(s)) {
    line << "; objects (" << s.match() << "): " << all->detected << "/" << all->gt_objects
         << " found, " << all->false_positives << " false positives";
  }
  line << "; report: " << out_dir << "/report.html";
  return line.str();
}

void write_repeats_summary(const std::filesystem::path& run_dir,
                           const std::vector<std::string>& repeat_dirs,
                           const std::vector<std::map<std::string, double>>& tests) {
  std::vector<std::string> names;
  for (const auto& t : tests) {
    for (const auto& [k, v] : t) {
      if (std::find(names.begin(), names.end(), k) == names.end()) names.push_back(k);
    }
  }
  json j;
  j["repeats"] = json::array();
  for (size_t i = 0; i < tests.size(); ++i) {
    json m = json::object();
    for (const auto& [k, v] : tests[i]) m[k] = json_number(v);
    j["repeats"].push_back({{"folder", repeat_dirs[i]}, {"test", m}});
  }
  std::ostringstream md;
  md << "| metric | mean ± std | ";
  for (size_t i = 0; i < tests.size(); ++i) md << "repeat " << i << " | ";
  md << "\n|---|---|";
  for (size_t i = 0; i < tests.size(); ++i) md << "---|";
  md << "\n";
  json mean = json::object(), std = json::object();
  for (const auto& name : names) {
    std::vector<double> values;
    for (const auto& t : tests) {
      const auto it = t.find(name);
      values.push_back(it == t.end() ? std::numeric_limits<double>::quiet_NaN() : it->second);
    }
    const auto stat = metrics::summarize_values(values);
    mean[name] = json_number(stat.mean);
    std[name] = json_number(stat.std);
    md << "| " << name << " | " << value_text(name, stat.mean) << " ± "
       << value_text(name, stat.std) << " | ";
    for (const double v : values) md << value_text(name, v) << " | ";
    md << "\n";
  }
  j["mean"] = mean;
  j["std"] = std;
  utils::write_file_atomic((run_dir / kRepeatsJson).string(), j.dump(1) + "\n");
  utils::write_file_atomic((run_dir / kRepeatsMarkdown).string(), md.str());
}

}  // namespace svanet::engine
