#include "svanet/evaluation/study.h"

#include "data/cv_io.h"
#include "evaluation/format.h"
#include "svanet/common/error.h"
#include "svanet/config/train_config.h"
#include "svanet/evaluation/summary.h"
#include "svanet/metrics/registry.h"
#include "svanet/models/profile.h"
#include "svanet/models/registry.h"
#include "svanet/utils/atomic_file.h"
#include "svanet/utils/paths.h"
#include "svanet/utils/text.h"
#include "utils/plot.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <map>
#include <numeric>
#include <sstream>

namespace svanet::evaluation {

namespace {

namespace fs = std::filesystem;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

/// The value of every column of one summary, by key.
using Values = std::map<std::string, double>;

double find_or_nan(const std::map<std::string, double>& m, const std::string& key) {
  const auto it = m.find(key);
  return it == m.end() ? kNaN : it->second;
}

/// The object-size bins of class 0 (all foreground classes), smallest
/// first, without "all".
std::vector<std::string> object_bins_of(const metrics::Summary& s) {
  std::vector<std::string> bins;
  for (const auto& o : s.objects) {
    if (o.class_index == 0 && o.label != "all") bins.push_back(o.label);
  }
  return bins;
}

/// The featured metrics the ultra-small images have (all but the
/// per-object ones).
std::vector<const metrics::Metric*> per_image_featured() {
  std::vector<const metrics::Metric*> out;
  for (const metrics::Metric* m : metrics::featured_metrics()) {
    if (m->traits.scope != metrics::MetricScope::kObjects) out.push_back(m);
  }
  return out;
}

/// A summary read for the study, with the file it came from.
struct StudiedSummary {
  std::string path;
  metrics::Summary summary;
};

/// Column `name` of RUN/metrics.csv, one value per epoch; empty without the file.
std::vector<double> epoch_column(const fs::path& run, const std::string& name) {
  const fs::path csv = run / "metrics.csv";
  if (!fs::exists(csv)) return {};
  const auto lines = utils::split(utils::read_file(csv.string()), '\n');
  if (lines.empty()) return {};
  const auto header = utils::split(lines.front(), ',');
  const auto column = std::find(header.begin(), header.end(), name);
  SVANET_CHECK(column != header.end(), csv.string(), ": no ", name, " column");
  const auto index = static_cast<size_t>(column - header.begin());
  std::vector<double> values;
  for (size_t i = 1; i < lines.size(); ++i) {
    if (utils::trim(lines[i]).empty()) continue;
    const auto cells = utils::split(lines[i], ',');
    SVANET_CHECK(index < cells.size(), csv.string(), ":", i + 1, ": expected ", header.size(),
                 " columns, got ", cells.size());
    try {
      values.push_back(std::stod(cells[index]));
    } catch (const std::exception&) {
      SVANET_FAIL(csv.string(), ":", i + 1, ": ", name, " '", cells[index], "' is not a number");
    }
  }
  return values;
}

/// Median images/s over the epochs of RUN/metrics.csv; NaN without one.
double training_speed(const fs::path& run) {
  auto speeds = epoch_column(run, "images_per_s");
  if (speeds.empty()) return kNaN;
  std::sort(speeds.begin(), speeds.end());
  const size_t n = speeds.size();
  return n % 2 == 1 ? speeds[n / 2] : 0.5 * (speeds[n / 2 - 1] + speeds[n / 2]);
}

/// Minutes of training steps (the epochs' seconds in RUN/metrics.csv;
/// validation not included); NaN without the file.
double training_minutes(const fs::path& run) {
  const auto seconds = epoch_column(run, "seconds");
  if (seconds.empty()) return kNaN;
  return std::accumulate(seconds.begin(), seconds.end(), 0.0) / 60.0;
}

struct ModelCost {
  double parameters_m = kNaN;
  double gmacs = kNaN;
};

/// Parameters and MACs of the model RUN/config.yaml describes, built
/// without its pretrained weights.
ModelCost model_cost(const fs::path& run) {
  const fs::path file = run / "config.yaml";
  if (!fs::exists(file)) return {};
  models::ModelSpec spec;
  try {
    spec = config::load_train_config(file.string()).model;
  } catch (const std::exception& e) {
    SVANET_FAIL(file.string(), ": cannot read its model for the cost columns (", e.what(),
                "); --no-cost skips them");
  }
  auto overrides = spec.options.overrides();
  overrides.erase("pretrained_backbone");
  spec.options.overrides(overrides);
  int64_t size = spec.options.image_size();
  if (size <= 0) size = model_registry().get(spec.name).traits.default_image_size;
  models::SegmentationModel model{nullptr};
  try {
    model = create_model(spec);
  } catch (const std::exception& e) {
    SVANET_FAIL(file.string(), ": cannot build its model for the cost columns (", e.what(),
                "); --no-cost skips them");
  }
  model->eval();
  torch::NoGradGuard no_grad;
  const auto input = torch::zeros({1, model->in_channels(), size, size});
  ModelCost cost;
  cost.parameters_m = static_cast<double>(models::count_parameters(*model)) / 1e6;
  cost.gmacs = static_cast<double>(models::count_macs([&] { model->forward(input); })) / 1e9;
  return cost;
}

/// Every column's value in one summary (cost columns excluded).
Values summary_values(const StudiedSummary& file, const StudyOptions& options) {
  const metrics::Summary& s = file.summary;
  Values v = metrics::headline(s);
  const auto bin = std::find_if(s.size_bins.begin(), s.size_bins.end(), [&](const auto& b) {
    return b.cumulative && b.label == options.ultra_small_bin;
  });
  if (bin == s.size_bins.end()) {
    std::vector<std::string> labels;
    for (const auto& b : s.size_bins) {
      if (b.cumulative) labels.push_back(b.label);
    }
    SVANET_FAIL(file.path, ": no cumulative image-size bin '", options.ultra_small_bin,
                "' for the ultra-small columns; its bins: ", utils::join(labels, ", "));
  }
  for (const metrics::Metric* m : per_image_featured()) {
    v["us_" + m->name] = metrics::metric_value(*m, *bin);
  }
  for (const auto& o : s.objects) {
    if (o.class_index != 0 || o.label == "all") continue;
    for (const metrics::Metric* m : metrics::metrics_of(metrics::MetricScope::kObjects)) {
      v[m->name + "_" + o.label] = m->factory.per_bin(o);
    }
  }
  return v;
}

std::string format_difference(const metrics::Stat& s, const metrics::Stat& reference, int digits) {
  if (s.n == 0 || reference.n == 0) return "n/a";
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "%+.*f", digits, s.mean - reference.mean);
  return buffer;
}

std::string latex_escaped(const std::string& text) {
  std::string out;
  for (const char c : text) {
    if (c == '_' || c == '%' || c == '&' || c == '#') {
      out += '\\';
      out += c;
    } else if (c == '<' || c == '>') {
      out += std::string("$") + c + "$";
    } else {
      out += c;
    }
  }
  return out;
}

/// One table in Markdown or LaTeX: a header row, then one row per run.
/// `cell(row, column)` gives the text of a cell.
template <typename Cell>
std::string table(const StudySection& section, const std::vector<StudyRow>& rows, bool latex,
                  Cell cell) {
  std::ostringstream out;
  if (latex) {
    out << "% " << section.title << "\n\\begin{tabular}{l r"
        << std::string(section.columns.size(), 'r') << "}\n\\hline\nrun & n";
    for (const auto& c : section.columns) out << " & " << latex_escaped(c.title);
    out << " \\\\\n\\hline\n";
  } else {
    out << "| run | n |";
    for (const auto& c : section.columns) out << ' ' << c.title << " |";
    out << "\n|---|---|";
    for (size_t i = 0; i < section.columns.size(); ++i) out << "---|";
    out << "\n";
  }
  for (size_t r = 0; r < rows.size(); ++r) {
    if (latex) {
      out << latex_escaped(rows[r].label) << " & " << rows[r].summaries.size();
    } else {
      out << "| " << rows[r].label << " | " << rows[r].summaries.size() << " |";
    }
    for (size_t c = 0; c < section.columns.size(); ++c) {
      const std::string text = cell(r, c);
      if (latex) {
        out << " & " << text;
      } else {
        out << ' ' << text << " |";
      }
    }
    out << (latex ? " \\\\\n" : "\n");
  }
  if (latex) out << "\\hline\n\\end{tabular}\n";
  return out.str();
}

std::string document(const Study& study, bool latex) {
  std::ostringstream out;
  const char* separator = latex ? " $\\pm$ " : " ± ";
  for (size_t s = 0; s < study.sections.size(); ++s) {
    const auto& section = study.sections[s];
    out << (latex ? "" : "## ") << (latex ? "" : section.title + "\n\n");
    out << table(section, study.rows, latex, [&](size_t r, size_t c) {
      return detail::stat_cell(study.rows[r].values[s][c], section.columns[c].digits, separator);
    });
    out << "\n";
  }
  if (study.reference >= 0) {
    const auto& ref = study.rows[static_cast<size_t>(study.reference)];
    for (size_t s = 0; s < study.sections.size(); ++s) {
      const auto& section = study.sections[s];
      const std::string title =
          section.title + ": difference to " + ref.label + " (row mean minus its mean)";
      StudySection titled = section;
      titled.title = title;
      out << (latex ? "" : "## " + title + "\n\n");
      out << table(titled, study.rows, latex, [&](size_t r, size_t c) {
        return format_difference(study.rows[r].values[s][c], ref.values[s][c],
                                 section.columns[c].digits);
      });
      out << "\n";
    }
  }
  return out.str();
}

/// One chart of a per-object section's metric by object-size bin, a line
/// per run.
cv::Mat per_bin_chart(const Study& study, size_t section) {
  const auto& columns = study.sections[section].columns;
  utils::plot::Axes axes;
  axes.title = study.sections[section].title + " (" + study.split + " split)";
  axes.x_label = "object size (" + study.object_bins_unit +
                 (study.object_bins_unit == "%" ? " of the image" : "") + ")";
  axes.y_min = 0.0;
  axes.y_max = 1.0;
  axes.legend_right = true;
  for (const auto& b : study.object_bins) axes.x_categories.push_back(b);
  std::vector<utils::plot::Series> series;
  for (size_t r = 0; r < study.rows.size(); ++r) {
    utils::plot::Series s;
    s.label = study.rows[r].label;
    s.colour = utils::plot::series_colour(r);
    s.dashed = r >= 10;
    s.markers = true;
    for (size_t c = 0; c < columns.size(); ++c) {
      const auto& v = study.rows[r].values[section][c];
      s.x.push_back(static_cast<double>(c));
      s.y.push_back(v.n > 0 ? v.mean : kNaN);
    }
    series.push_back(std::move(s));
  }
  return utils::plot::line_chart(axes, series, 900, 330);
}

}  // namespace

Study make_study(const std::vector<StudyRun>& runs, const StudyOptions& options) {
  SVANET_CHECK(!runs.empty(), "a study needs at least one run");
  Study study;
  study.split = options.split;
  study.ultra_small_bin = options.ultra_small_bin;
  std::vector<std::vector<StudiedSummary>> summaries;
  std::vector<std::string> labels;
  for (const auto& run : runs) {
    SVANET_CHECK(!run.summaries.empty(), run.label, ": no evaluation to study");
    if (const auto twin = std::find(labels.begin(), labels.end(), run.label);
        twin != labels.end()) {
      SVANET_FAIL("two runs are labelled '", run.label, "' (",
                  runs[static_cast<size_t>(twin - labels.begin())].summaries.front(), " and ",
                  run.summaries.front(), "); --labels names the rows");
    }
    labels.push_back(run.label);
    std::vector<StudiedSummary> records;
    for (const auto& file : run.summaries) records.push_back({file, read_summary(file)});
    summaries.push_back(std::move(records));
  }
  const auto& first = summaries.front().front();
  study.object_bins = object_bins_of(first.summary);
  for (const auto& row : summaries) {
    for (const auto& s : row) {
      SVANET_CHECK(object_bins_of(s.summary) == study.object_bins, s.path,
                   ": its object-size bins (", utils::join(object_bins_of(s.summary), ", "),
                   ") differ from those of ", first.path, " (",
                   utils::join(study.object_bins, ", "),
                   "); evaluate every run with the same --object-bins");
      SVANET_CHECK(s.summary.match() == first.summary.match(), s.path,
                   ": its objects were matched by ", s.summary.match(), ", those of ", first.path,
                   " by ", first.summary.match(),
                   "; object counts under different rules do not compare (evaluate every run "
                   "with the same --match)");
    }
  }
  study.match = first.summary.match();
  study.object_bins_unit = first.summary.options.object_bin_unit();
  for (const auto& o : first.summary.objects) {
    if (o.class_index == 0 && o.label != "all") study.object_counts.push_back(o.gt_objects);
  }
  for (const auto& b : first.summary.size_bins) {
    if (b.cumulative && b.label == options.ultra_small_bin) study.ultra_small_images = b.images;
  }

  const std::string unit = first.summary.options.distance_unit;
  StudySection overall{"Overall and ultra-small images", {}, ""};
  for (const metrics::Metric* m : metrics::featured_metrics()) {
    overall.columns.push_back({m->name, metrics::metric_title(*m, unit), m->traits.digits});
  }
  const std::string us = options.ultra_small_bin + " %";
  for (const metrics::Metric* m : per_image_featured()) {
    overall.columns.push_back(
        {"us_" + m->name, metrics::metric_title(*m, unit) + " " + us, m->traits.digits});
  }
  study.sections.push_back(overall);
  // One section per featured per-object metric, a column per object-size
  // bin. Predicted components are binned by their own size, so a bin's
  // precision is that of the predictions of that size.
  for (const metrics::Metric* m : metrics::featured_metrics(metrics::MetricScope::kObjects)) {
    StudySection section{"Per object, by object size: " + m->traits.label, {}, m->name};
    for (const auto& b : study.object_bins) {
      section.columns.push_back({m->name + "_" + b, m->traits.label + " " + b, m->traits.digits});
    }
    study.sections.push_back(section);
  }
  study.sections.push_back({"Model and training cost",
                            {{"parameters_m", "parameters (M)", 3},
                             {"gmacs", "GMACs per image", 2},
                             {"train_images_per_s", "training images/s", 1},
                             {"train_minutes", "training minutes", 1}},
                            ""});

  for (size_t r = 0; r < runs.size(); ++r) {
    StudyRow row;
    row.label = runs[r].label;
    std::vector<Values> values;
    for (const auto& s : summaries[r]) {
      row.summaries.push_back(s.path);
      Values v = summary_values(s, options);
      const fs::path run = fs::path(s.path).parent_path().parent_path();
      v["train_images_per_s"] = training_speed(run);
      v["train_minutes"] = training_minutes(run);
      values.push_back(std::move(v));
    }
    if (options.model_cost) {
      const auto c = model_cost(fs::path(summaries[r].front().path).parent_path().parent_path());
      for (auto& v : values) {
        v["parameters_m"] = c.parameters_m;
        v["gmacs"] = c.gmacs;
      }
    }
    for (const auto& section : study.sections) {
      std::vector<metrics::Stat> stats;
      for (const auto& column : section.columns) {
        std::vector<double> samples;
        for (const auto& v : values) {
          const double x = find_or_nan(v, column.key);
          if (std::isfinite(x)) samples.push_back(x);
        }
        // A value some repeats lack is not averaged over the others.
        stats.push_back(samples.size() == values.size() ? metrics::summarize_values(samples)
                                                        : metrics::Stat{});
      }
      row.values.push_back(std::move(stats));
    }
    study.rows.push_back(std::move(row));
  }
  if (!options.reference.empty()) {
    const auto it = std::find(labels.begin(), labels.end(), options.reference);
    SVANET_CHECK(it != labels.end(), "--reference '", options.reference, "' is not a row",
                 utils::did_you_mean(options.reference, labels),
                 "; the rows: ", utils::join(labels, ", "));
    study.reference = it - labels.begin();
  }
  return study;
}

std::string Study::markdown() const {
  std::ostringstream out;
  out << "# Study: " << rows.size() << " run(s), " << split
      << " split\n\nMean ± sample standard deviation over each run's repeats (n). Overall: "
         "the featured metrics of the registry (per-case metrics as foreground means; "
         "object metrics with objects matched by "
      << match << "; (paper): the paper's definitions as fractions, background included). "
      << ultra_small_bin << " %: the " << ultra_small_images
      << " images whose foreground covers under " << ultra_small_bin.substr(1)
      << " % of the image. Per object: each featured object metric by size bin, objects binned "
         "by their size and predicted components by theirs ("
      << object_bins_unit << (object_bins_unit == "%" ? " of the image" : "")
      << "), all foreground classes together";
  if (!object_counts.empty()) {
    out << " (objects per bin in " << rows.front().label << "'s first evaluation:";
    for (size_t i = 0; i < object_bins.size() && i < object_counts.size(); ++i) {
      out << (i == 0 ? " " : ", ") << object_bins[i] << ": " << object_counts[i];
    }
    out << ")";
  }
  out << ". Cost: parameters and multiply-accumulates of one forward pass at each model's image "
         "size; training images/s is the median over epochs, training minutes the sum of the "
         "epochs' "
         "training steps (validation, calibration and the test evaluation not included).\n\n";
  out << document(*this, false);
  return out.str();
}

std::string Study::latex() const {
  return document(*this, true);
}

std::string Study::csv() const {
  std::ostringstream out;
  out << "run,n";
  for (const auto& section : sections) {
    for (const auto& c : section.columns) out << ',' << c.key << "_mean," << c.key << "_std";
  }
  if (reference >= 0) {
    for (const auto& section : sections) {
      for (const auto& c : section.columns) out << ',' << c.key << "_difference";
    }
  }
  out << "\n";
  // Exact: the shortest text that reads back as the same double.
  auto number = [](double v) { return std::isfinite(v) ? utils::format_number(v) : std::string(); };
  for (const auto& row : rows) {
    out << utils::csv_field(row.label) << ',' << row.summaries.size();
    for (const auto& stats : row.values) {
      for (const auto& s : stats) {
        out << ',' << (s.n > 0 ? number(s.mean) : "") << ','
            << (s.n > 1 ? number(s.std) : (s.n == 1 ? "0" : ""));
      }
    }
    if (reference >= 0) {
      const auto& ref = rows[static_cast<size_t>(reference)];
      for (size_t s = 0; s < row.values.size(); ++s) {
        for (size_t c = 0; c < row.values[s].size(); ++c) {
          const auto& a = row.values[s][c];
          const auto& b = ref.values[s][c];
          out << ',' << (a.n > 0 && b.n > 0 ? number(a.mean - b.mean) : "");
        }
      }
    }
    out << "\n";
  }
  return out.str();
}

void write_study(const Study& study, const std::string& out_dir) {
  utils::create_folders(out_dir);
  const fs::path out(out_dir);
  utils::write_file_atomic((out / "study.md").string(), study.markdown());
  utils::write_file_atomic((out / "study.csv").string(), study.csv());
  utils::write_file_atomic((out / "study.tex").string(), study.latex());
  std::vector<cv::Mat> charts;
  for (size_t s = 0; s < study.sections.size(); ++s) {
    if (!study.sections[s].object_metric.empty()) charts.push_back(per_bin_chart(study, s));
  }
  const cv::Mat chart = utils::plot::stack_vertical(charts);
  data::write_mat((out / "study.png").string(), chart);
}

}  // namespace svanet::evaluation
