#include "svanet/io/export.h"

#include "svanet/common/error.h"
#include "svanet/io/checkpoint.h"
#include "svanet/io/pytorch_file.h"
#include "svanet/io/state_dict.h"
#include "svanet/utils/atomic_file.h"

#include <cstdio>
#include <filesystem>
#include <sstream>

namespace svanet::io {

namespace {

std::string json_string(const std::string& text) {
  std::string out = "\"";
  for (const char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buffer[8];
          std::snprintf(buffer, sizeof(buffer), "\\u%04x", static_cast<unsigned>(c));
          out += buffer;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

std::string json_numbers(const std::vector<double>& values) {
  std::ostringstream out;
  out.precision(17);
  out << '[';
  for (size_t i = 0; i < values.size(); ++i) out << (i > 0 ? ", " : "") << values[i];
  out << ']';
  return out.str();
}

}  // namespace

PlainExport export_state_dict(const std::string& checkpoint, const std::string& output) {
  const auto loaded = load_checkpoint(checkpoint);
  const auto& meta = loaded.meta;
  PlainExport report;
  report.weights = output;
  report.sidecar = std::filesystem::path(output).replace_extension(".json").string();
  SVANET_CHECK(report.sidecar != report.weights, output,
               ": the weights need another extension than .json (e.g. .pt)");
  const auto sd = state_dict(*loaded.model);
  report.tensors = sd.size();

  std::ostringstream json;
  json << "{\n  \"format\": \"svanet.model_spec\",\n  \"version\": 1,\n";
  json << "  \"weights\": " << json_string(std::filesystem::path(output).filename().string())
       << ",\n";
  json << "  \"model\": {\n    \"name\": " << json_string(meta.model.name) << ",\n";
  json << "    \"num_classes\": " << meta.model.options.num_classes() << ",\n";
  json << "    \"in_channels\": " << meta.model.options.in_channels() << ",\n";
  json << "    \"image_size\": " << meta.model.options.image_size() << ",\n";
  json << "    \"options\": {";
  bool first = true;
  for (const auto& [key, value] : meta.model.options.overrides()) {
    json << (first ? "" : ", ") << json_string(key) << ": " << json_string(value);
    first = false;
  }
  json << "}\n  },\n  \"classes\": [";
  for (size_t i = 0; i < meta.classes.size(); ++i) {
    json << (i > 0 ? ", " : "") << json_string(meta.classes[i]);
  }
  json << "],\n  \"normalization\": {\"mode\": " << json_string(meta.normalization.mode)
       << ", \"mean\": " << json_numbers(meta.normalization.mean)
       << ", \"std\": " << json_numbers(meta.normalization.std) << "},\n";
  json << "  \"epoch\": " << meta.epoch << ",\n";
  json << "  \"source\": " << json_string(checkpoint) << "\n}\n";

  write_pytorch_state_dict(output, sd);
  utils::write_file_atomic(report.sidecar, json.str());
  return report;
}

}  // namespace svanet::io
