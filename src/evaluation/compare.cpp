#include "svanet/evaluation/compare.h"

#include "evaluation/format.h"
#include "svanet/common/error.h"
#include "svanet/evaluation/summary.h"
#include "svanet/metrics/registry.h"
#include "svanet/utils/text.h"

#include <algorithm>
#include <sstream>

namespace svanet::evaluation {

namespace {

std::string latex_escaped(const std::string& text) {
  std::string out;
  for (const char c : text) out += c == '_' ? std::string("\\_") : std::string(1, c);
  return out;
}

}  // namespace

std::vector<std::string> default_compare_metrics() {
  std::vector<std::string> names;
  for (const metrics::Metric* m : metrics::featured_metrics()) names.push_back(m->name);
  return names;
}

CompareTables compare(const std::vector<CompareRow>& rows, const std::vector<std::string>& names) {
  std::vector<const metrics::Metric*> columns;
  for (const auto& name : names) {
    SVANET_CHECK(metrics::metric_registry().contains(name), "--metrics: unknown metric '", name,
                 "'", utils::did_you_mean(name, metrics::metric_registry().names()),
                 "; the metrics: ", utils::join(metrics::metric_registry().names(), ", "));
    columns.push_back(&metrics::metric(name));
  }
  std::vector<std::vector<metrics::Stat>> stats;
  std::vector<std::string> rules;
  for (const auto& row : rows) {
    SVANET_CHECK(!row.summaries.empty(), row.label, ": no evaluation to compare");
    std::vector<std::vector<double>> values(columns.size());
    std::vector<std::string> row_rules;
    for (const auto& f : row.summaries) {
      const auto summary = read_summary(f);
      for (size_t i = 0; i < columns.size(); ++i) {
        values[i].push_back(metrics::metric_value(*columns[i], summary));
      }
      if (std::find(row_rules.begin(), row_rules.end(), summary.match()) == row_rules.end()) {
        row_rules.push_back(summary.match());
      }
    }
    std::vector<metrics::Stat> row_stats;
    row_stats.reserve(values.size());
    for (const auto& v : values) row_stats.push_back(metrics::summarize_values(v));
    stats.push_back(std::move(row_stats));
    rules.push_back(utils::join(row_rules, " "));
  }
  // The matching rule is a column of its own when the rows differ in it.
  const bool rule_column = std::any_of(rules.begin(), rules.end(),
                                       [&](const std::string& r) { return r != rules.front(); });
  std::ostringstream md, csv, tex;
  md << "| run | n |" << (rule_column ? " match |" : "");
  csv << "run,n,match";
  tex << "\\begin{tabular}{l r" << (rule_column ? "l" : "") << std::string(names.size(), 'r')
      << "}\n\\hline\nrun & n" << (rule_column ? " & match" : "");
  for (const auto& n : names) {
    md << ' ' << n << " |";
    csv << ',' << n << "_mean," << n << "_std";
    tex << " & " << latex_escaped(n);
  }
  md << "\n|---|---|" << (rule_column ? "---|" : "");
  for (size_t i = 0; i < names.size(); ++i) md << "---|";
  md << "\n";
  tex << " \\\\\n\\hline\n";
  csv << "\n";
  for (size_t r = 0; r < rows.size(); ++r) {
    const auto& row = rows[r];
    md << "| " << row.label << " | " << row.summaries.size() << " |"
       << (rule_column ? " " + rules[r] + " |" : "");
    csv << utils::csv_field(row.label) << ',' << row.summaries.size() << ','
        << utils::csv_field(rules[r]);
    tex << latex_escaped(row.label) << " & " << row.summaries.size()
        << (rule_column ? " & " + latex_escaped(rules[r]) : "");
    for (size_t i = 0; i < names.size(); ++i) {
      const auto& s = stats[r][i];
      const int digits = columns[i]->traits.digits;
      md << ' ' << detail::stat_cell(s, digits, " ± ") << " |";
      // Exact: the shortest text that reads back as the same double.
      csv << ',' << (s.n > 0 ? utils::format_number(s.mean) : "") << ','
          << (s.n > 1    ? utils::format_number(s.std)
              : s.n == 1 ? "0"
                         : "");
      tex << " & " << detail::stat_cell(s, digits, " $\\pm$ ");
    }
    md << "\n";
    csv << "\n";
    tex << " \\\\\n";
  }
  tex << "\\hline\n\\end{tabular}\n";
  return {md.str(), csv.str(), tex.str()};
}

}  // namespace svanet::evaluation
