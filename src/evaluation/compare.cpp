#include "svanet/evaluation/compare.h"

#include "evaluation/format.h"
#include "svanet/common/error.h"
#include "svanet/evaluation/summary.h"
#include "svanet/metrics/reduce.h"

#include <cstdio>
#include <map>
#include <sstream>

namespace svanet::evaluation {

namespace {

std::string cell(const metrics::Stat& s, const std::string& metric, const char* separator) {
  const int digits = metric.rfind("ref_", 0) == 0 || metric == "hd95" || metric == "assd" ? 2 : 4;
  return detail::stat_cell(s, digits, separator);
}

std::string latex_escaped(const std::string& text) {
  std::string out;
  for (const char c : text) out += c == '_' ? std::string("\\_") : std::string(1, c);
  return out;
}

}  // namespace

CompareTables compare(const std::vector<CompareRow>& rows, const std::vector<std::string>& names) {
  std::vector<std::vector<metrics::Stat>> stats;
  for (const auto& row : rows) {
    SVANET_CHECK(!row.summaries.empty(), row.label, ": no evaluation to compare");
    std::vector<std::map<std::string, double>> values;
    values.reserve(row.summaries.size());
    for (const auto& f : row.summaries) values.push_back(read_headline(f));
    std::vector<metrics::Stat> row_stats;
    for (const auto& name : names) {
      std::vector<double> v;
      for (size_t i = 0; i < values.size(); ++i) {
        const auto it = values[i].find(name);
        SVANET_CHECK(it != values[i].end(), row.summaries[i], ": no metric '", name,
                     "' (--metrics takes names of the summary's headline)");
        v.push_back(it->second);
      }
      row_stats.push_back(metrics::summarize_values(v));
    }
    stats.push_back(std::move(row_stats));
  }
  std::ostringstream md, csv, tex;
  md << "| run | n |";
  csv << "run,n";
  tex << "\\begin{tabular}{l r" << std::string(names.size(), 'r') << "}\n\\hline\nrun & n";
  for (const auto& n : names) {
    md << ' ' << n << " |";
    csv << ',' << n << "_mean," << n << "_std";
    tex << " & " << latex_escaped(n);
  }
  md << "\n|---|---|";
  for (size_t i = 0; i < names.size(); ++i) md << "---|";
  md << "\n";
  tex << " \\\\\n\\hline\n";
  csv << "\n";
  for (size_t r = 0; r < rows.size(); ++r) {
    const auto& row = rows[r];
    md << "| " << row.label << " | " << row.summaries.size() << " |";
    csv << row.label << ',' << row.summaries.size();
    tex << latex_escaped(row.label) << " & " << row.summaries.size();
    for (size_t i = 0; i < names.size(); ++i) {
      const auto& s = stats[r][i];
      md << ' ' << cell(s, names[i], " ± ") << " |";
      char buffer[64];
      std::snprintf(buffer, sizeof(buffer), ",%.6g,%.6g", s.mean, s.n > 1 ? s.std : 0.0);
      csv << buffer;
      tex << " & " << cell(s, names[i], " $\\pm$ ");
    }
    md << "\n";
    csv << "\n";
    tex << " \\\\\n";
  }
  tex << "\\hline\n\\end{tabular}\n";
  return {md.str(), csv.str(), tex.str()};
}

}  // namespace svanet::evaluation
