#include "svanet/official/compat.h"

#include "svanet/common/error.h"
#include "svanet/models/registry.h"
#include "svanet/utils/text.h"

#include <algorithm>
#include <cctype>
#include <functional>
#include <map>
#include <regex>
#include <sstream>

namespace svanet::official {

namespace {

std::string index0(const std::string& one_based) {
  return std::to_string(std::stoll(one_based) - 1);
}

/// `Conv.weight` / `Conv.bias` / `Bn.<x>` inside a BaseConv2d.
std::string conv_bn(const std::string& rest, const std::string& key) {
  static const std::regex conv(R"(^Conv\.(weight|bias)$)");
  static const std::regex bn(R"(^Bn\.(weight|bias|running_mean|running_var|num_batches_tracked)$)");
  std::smatch m;
  if (std::regex_match(rest, m, conv)) return "conv." + m[1].str();
  if (std::regex_match(rest, m, bn)) return "bn." + m[1].str();
  SVANET_FAIL("unrecognised official state-dict key '", key, "'");
}

/// The inside of an official AssembleFormer (`ViTLayer`).
std::string former(const std::string& rest, const std::string& key) {
  static const std::regex local(R"(^LocalRep\.([02])\.(.*)$)");
  static const std::regex attn_norm(R"(^GlobalRep\.(\d+)\.PreNormAttn\.0\.(\w+)$)");
  static const std::regex attn_proj(
      R"(^GlobalRep\.(\d+)\.PreNormAttn\.1\.(qkv_proj|out_proj)\.(.*)$)");
  static const std::regex ffn_norm(R"(^GlobalRep\.(\d+)\.PreNormFfn\.0\.(\w+)$)");
  static const std::regex ffn_fc(R"(^GlobalRep\.(\d+)\.PreNormFfn\.([13])\.(.*)$)");
  static const std::regex global_norm(R"(^GlobalRep\.(\d+)\.(\w+)$)");
  static const std::regex proj(R"(^ConvProj\.(.*)$)");
  std::smatch m;
  if (std::regex_match(rest, m, local)) {
    return (m[1] == "0" ? "local_conv." : "local_proj.") + conv_bn(m[2], key);
  }
  if (std::regex_match(rest, m, attn_norm))
    return "global_blocks." + m[1].str() + ".attn_norm." + m[2].str();
  if (std::regex_match(rest, m, attn_proj)) {
    return "global_blocks." + m[1].str() + (m[2] == "qkv_proj" ? ".attn.qkv." : ".attn.out.") +
           conv_bn(m[3], key);
  }
  if (std::regex_match(rest, m, ffn_norm))
    return "global_blocks." + m[1].str() + ".ffn_norm." + m[2].str();
  if (std::regex_match(rest, m, ffn_fc)) {
    return "global_blocks." + m[1].str() + (m[2] == "1" ? ".ffn_fc1." : ".ffn_fc2.") +
           conv_bn(m[3], key);
  }
  if (std::regex_match(rest, m, global_norm)) return "global_norm." + m[2].str();
  if (std::regex_match(rest, m, proj)) return "fuse_proj." + conv_bn(m[1], key);
  SVANET_FAIL("unrecognised official state-dict key '", key, "'");
}

struct Rule {
  std::regex pattern;
  std::function<std::string(const std::smatch&, const std::string&)> map;
};

const std::vector<Rule>& rules() {
  using M = std::smatch;
  using S = std::string;
  static const std::vector<Rule> table = {
      {std::regex(R"(^Encoder\.Conv1\.(.*)$)"),
       [](const M& m, const S& k) { return "encoder.stem." + conv_bn(m[1], k); }},
      {std::regex(R"(^Encoder\.Layer(?:1\.1|([2-4]))\.(\d+)\.(Conv[123]|Downsample)\.(.*)$)"),
       [](const M& m, const S& k) {
         const S layer = m[1].matched ? m[1].str() : "1";
         return "encoder.layer" + layer + "." + m[2].str() + "." + utils::to_lower(m[3]) + "." +
                conv_bn(m[4], k);
       }},
      {std::regex(R"(^SegHead\.ConvB(\d+)\.Bottleneck\.([013])\.(.*)$)"),
       [](const M& m, const S& k) {
         static const std::map<S, S> part = {{"0", "expand"}, {"1", "spatial"}, {"3", "project"}};
         return "bottlenecks." + index0(m[1]) + "." + part.at(m[2]) + "." + conv_bn(m[3], k);
       }},
      {std::regex(R"(^SegHead\.ConvB(\d+)\.Bottleneck\.2\.SELayer\.([01])\.(.*)$)"),
       [](const M& m, const S& k) {
         return "bottlenecks." + index0(m[1]) + ".attention." +
                (m[2] == "0" ? "reduce." : "expand.") + conv_bn(m[3], k);
       }},
      {std::regex(R"(^SegHead\.ConvB(\d+)\.ViTLayer\.(.*)$)"),
       [](const M& m, const S& k) {
         return "bottlenecks." + index0(m[1]) + ".former." + former(m[2], k);
       }},
      {std::regex(R"(^SegHead\.Convr(\d)(\d)\.Conv(\d+)\.Conv\.([01])\.(.*)$)"),
       [](const M& m, const S& k) {
         return "cross_" + m[1].str() + "_" + m[2].str() + ".blocks." + index0(m[3]) +
                (m[4] == "0" ? ".conv3x3." : ".conv1x1.") + conv_bn(m[5], k);
       }},
      {std::regex(R"(^SegHead\.Convr(\d)(\d)\.Squeeze(\d+)\.(.*)$)"),
       [](const M& m, const S& k) {
         return "cross_" + m[1].str() + "_" + m[2].str() + ".squeeze." + index0(m[3]) + "." +
                conv_bn(m[4], k);
       }},
      {std::regex(R"(^SegHead\.LinkHead\.UpLink(\d+)\.TPConv\.([0-2])\.(.*)$)"),
       [](const M& m, const S& k) {
         static const std::map<S, S> part = {{"0", "reduce"}, {"1", "deconv"}, {"2", "expand"}};
         return "link.up." + index0(m[1]) + "." + part.at(m[2]) + "." + conv_bn(m[3], k);
       }},
      {std::regex(R"(^SegHead\.LinkHead\.CatLinkConv(\d+)\.Conv\.([01])\.(.*)$)"),
       [](const M& m, const S& k) {
         return "link.fuse." + index0(m[1]) + (m[2] == "0" ? ".conv3x3." : ".conv1x1.") +
                conv_bn(m[3], k);
       }},
      {std::regex(R"(^SegHead\.LinkHead\.ViTLayer(\d+)\.(.*)$)"),
       [](const M& m, const S& k) {
         return "link.former." + index0(m[1]) + "." + former(m[2], k);
       }},
      {std::regex(R"(^SegHead\.Aspp\.aspp_layer\.Convs\.([0-3])\.(.*)$)"),
       [](const M& m, const S& k) {
         return "aspp.branches." + m[1].str() + "." + conv_bn(m[2], k);
       }},
      {std::regex(R"(^SegHead\.Aspp\.aspp_layer\.Convs\.4\.AsppPool\.conv_1x1\.(.*)$)"),
       [](const M& m, const S& k) { return "aspp.pooling." + conv_bn(m[1], k); }},
      {std::regex(R"(^SegHead\.Aspp\.aspp_layer\.Project\.(.*)$)"),
       [](const M& m, const S& k) { return "aspp.project." + conv_bn(m[1], k); }},
      {std::regex(R"(^SegHead\.Classifier\.Classifier\.(.*)$)"),
       [](const M& m, const S& k) { return "classifier." + conv_bn(m[1], k); }},
  };
  return table;
}

}  // namespace

std::string to_svanet_key(const std::string& official_key) {
  static const std::string kDataParallel = "module.";
  const std::string key = official_key.rfind(kDataParallel, 0) == 0
                              ? official_key.substr(kDataParallel.size())
                              : official_key;
  std::smatch m;
  for (const auto& rule : rules()) {
    if (std::regex_match(key, m, rule.pattern)) {
      return rule.map(m, official_key);
    }
  }
  SVANET_FAIL("unrecognised official state-dict key '", official_key, "'");
}

std::vector<std::pair<std::string, std::string>> official_to_svanet_keys(
    const std::vector<std::string>& official_keys) {
  std::vector<std::pair<std::string, std::string>> out;
  out.reserve(official_keys.size());
  for (const auto& key : official_keys) {
    out.emplace_back(key, to_svanet_key(key));
  }
  return out;
}

namespace {

/// `conv.weight` / `bn.<x>` -> `Conv.weight` / `Bn.<x>`.
std::string official_conv_bn(const std::string& rest, const std::string& key) {
  static const std::regex conv(R"(^conv\.(weight|bias)$)");
  static const std::regex bn(R"(^bn\.(weight|bias|running_mean|running_var|num_batches_tracked)$)");
  std::smatch m;
  if (std::regex_match(rest, m, conv)) return "Conv." + m[1].str();
  if (std::regex_match(rest, m, bn)) return "Bn." + m[1].str();
  SVANET_FAIL("'", key, "' has no counterpart in the official SvANet models");
}

std::string index1(const std::string& zero_based) {
  return std::to_string(std::stoll(zero_based) + 1);
}

/// The inside of one of our AssembleFormers; `blocks` is how many global
/// blocks it has (the official final norm is GlobalRep.<blocks>).
std::string official_former(const std::string& rest, int64_t blocks, const std::string& key) {
  static const std::regex local(R"(^local_(conv|proj)\.(.*)$)");
  static const std::regex norm(R"(^global_blocks\.(\d+)\.(attn_norm|ffn_norm)\.(\w+)$)");
  static const std::regex attn(R"(^global_blocks\.(\d+)\.attn\.(qkv|out)\.(.*)$)");
  static const std::regex ffn(R"(^global_blocks\.(\d+)\.ffn_fc([12])\.(.*)$)");
  static const std::regex global_norm(R"(^global_norm\.(\w+)$)");
  static const std::regex proj(R"(^fuse_proj\.(.*)$)");
  std::smatch m;
  if (std::regex_match(rest, m, local)) {
    return std::string("LocalRep.") + (m[1] == "conv" ? "0." : "2.") + official_conv_bn(m[2], key);
  }
  if (std::regex_match(rest, m, norm)) {
    return "GlobalRep." + m[1].str() +
           (m[2] == "attn_norm" ? ".PreNormAttn.0." : ".PreNormFfn.0.") + m[3].str();
  }
  if (std::regex_match(rest, m, attn)) {
    return "GlobalRep." + m[1].str() + ".PreNormAttn.1." +
           (m[2] == "qkv" ? "qkv_proj." : "out_proj.") + official_conv_bn(m[3], key);
  }
  if (std::regex_match(rest, m, ffn)) {
    return "GlobalRep." + m[1].str() + ".PreNormFfn." + (m[2] == "1" ? "1." : "3.") +
           official_conv_bn(m[3], key);
  }
  if (std::regex_match(rest, m, global_norm)) {
    return "GlobalRep." + std::to_string(blocks) + "." + m[1].str();
  }
  if (std::regex_match(rest, m, proj)) return "ConvProj." + official_conv_bn(m[1], key);
  SVANET_FAIL("'", key, "' has no counterpart in the official SvANet models");
}

}  // namespace

std::vector<std::pair<std::string, std::string>> svanet_to_official_keys(
    const std::vector<std::string>& svanet_keys) {
  // Global blocks per AssembleFormer, by the prefix before `.global_blocks.`.
  static const std::regex block(R"(^(.*\.former(?:\.\d+)?)\.global_blocks\.(\d+)\..*$)");
  std::map<std::string, int64_t> blocks;
  std::smatch m;
  for (const auto& key : svanet_keys) {
    if (std::regex_match(key, m, block)) {
      auto& n = blocks[m[1].str()];
      n = std::max<int64_t>(n, std::stoll(m[2].str()) + 1);
    }
  }
  using M = std::smatch;
  using S = std::string;
  auto former = [&](const S& prefix, const S& rest, const S& key) {
    const auto it = blocks.find(prefix);
    return official_former(rest, it == blocks.end() ? 0 : it->second, key);
  };
  const std::vector<std::pair<std::regex, std::function<S(const M&, const S&)>>> table = {
      {std::regex(R"(^encoder\.stem\.(.*)$)"),
       [](const M& m, const S& k) { return "Encoder.Conv1." + official_conv_bn(m[1], k); }},
      {std::regex(R"(^encoder\.layer([1-4])\.(\d+)\.(conv[123]|downsample)\.(.*)$)"),
       [](const M& m, const S& k) {
         S part = m[3].str();
         part[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(part[0])));
         return "Encoder.Layer" + (m[1] == "1" ? S("1.1") : m[1].str()) + "." + m[2].str() + "." +
                part + "." + official_conv_bn(m[4], k);
       }},
      {std::regex(R"(^bottlenecks\.(\d+)\.(expand|spatial|project)\.(.*)$)"),
       [](const M& m, const S& k) {
         static const std::map<S, S> part = {{"expand", "0"}, {"spatial", "1"}, {"project", "3"}};
         return "SegHead.ConvB" + index1(m[1]) + ".Bottleneck." + part.at(m[2]) + "." +
                official_conv_bn(m[3], k);
       }},
      {std::regex(R"(^bottlenecks\.(\d+)\.attention\.(reduce|expand)\.(.*)$)"),
       [](const M& m, const S& k) {
         return "SegHead.ConvB" + index1(m[1]) + ".Bottleneck.2.SELayer." +
                (m[2] == "reduce" ? "0." : "1.") + official_conv_bn(m[3], k);
       }},
      {std::regex(R"(^(bottlenecks\.(\d+)\.former)\.(.*)$)"),
       [&](const M& m, const S& k) {
         return "SegHead.ConvB" + index1(m[2]) + ".ViTLayer." + former(m[1], m[3], k);
       }},
      {std::regex(R"(^cross_(\d)_(\d)\.blocks\.(\d+)\.(conv3x3|conv1x1)\.(.*)$)"),
       [](const M& m, const S& k) {
         return "SegHead.Convr" + m[1].str() + m[2].str() + ".Conv" + index1(m[3]) + ".Conv." +
                (m[4] == "conv3x3" ? "0." : "1.") + official_conv_bn(m[5], k);
       }},
      {std::regex(R"(^cross_(\d)_(\d)\.squeeze\.(\d+)\.(.*)$)"),
       [](const M& m, const S& k) {
         return "SegHead.Convr" + m[1].str() + m[2].str() + ".Squeeze" + index1(m[3]) + "." +
                official_conv_bn(m[4], k);
       }},
      {std::regex(R"(^link\.up\.(\d+)\.(reduce|deconv|expand)\.(.*)$)"),
       [](const M& m, const S& k) {
         static const std::map<S, S> part = {{"reduce", "0"}, {"deconv", "1"}, {"expand", "2"}};
         return "SegHead.LinkHead.UpLink" + index1(m[1]) + ".TPConv." + part.at(m[2]) + "." +
                official_conv_bn(m[3], k);
       }},
      {std::regex(R"(^link\.fuse\.(\d+)\.(conv3x3|conv1x1)\.(.*)$)"),
       [](const M& m, const S& k) {
         return "SegHead.LinkHead.CatLinkConv" + index1(m[1]) + ".Conv." +
                (m[2] == "conv3x3" ? "0." : "1.") + official_conv_bn(m[3], k);
       }},
      {std::regex(R"(^(link\.former\.(\d+))\.(.*)$)"),
       [&](const M& m, const S& k) {
         return "SegHead.LinkHead.ViTLayer" + index1(m[2]) + "." + former(m[1], m[3], k);
       }},
      {std::regex(R"(^aspp\.branches\.([0-3])\.(.*)$)"),
       [](const M& m, const S& k) {
         return "SegHead.Aspp.aspp_layer.Convs." + m[1].str() + "." + official_conv_bn(m[2], k);
       }},
      {std::regex(R"(^aspp\.pooling\.(.*)$)"),
       [](const M& m, const S& k) {
         return "SegHead.Aspp.aspp_layer.Convs.4.AsppPool.conv_1x1." + official_conv_bn(m[1], k);
       }},
      {std::regex(R"(^aspp\.project\.(.*)$)"),
       [](const M& m, const S& k) {
         return "SegHead.Aspp.aspp_layer.Project." + official_conv_bn(m[1], k);
       }},
      {std::regex(R"(^classifier\.(.*)$)"),
       [](const M& m, const S& k) {
         return "SegHead.Classifier.Classifier." + official_conv_bn(m[1], k);
       }},
  };
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& key : svanet_keys) {
    if (is_svanet_only_key(key)) continue;
    bool found = false;
    for (const auto& [pattern, map] : table) {
      if (std::regex_match(key, m, pattern)) {
        out.emplace_back(key, map(m, key));
        found = true;
        break;
      }
    }
    SVANET_CHECK(found, "'", key, "' has no counterpart in the official SvANet models");
  }
  return out;
}

bool is_svanet_only_key(const std::string& key) {
  static const std::regex region(R"(^cross_\d+_\d+\.region_masks$)");
  return std::regex_match(key, region);
}

namespace {

/// `--flag value...` tokens: each flag with the values up to the next flag.
std::map<std::string, std::vector<std::string>> parse_flags(const std::string& args) {
  std::map<std::string, std::vector<std::string>> flags;
  std::istringstream in(args);
  std::string token;
  std::string current;
  while (in >> token) {
    if (token.rfind("--", 0) == 0) {
      current = token.substr(2);
      flags[current];
    } else {
      SVANET_CHECK(!current.empty(), "official arguments: value '", token, "' before any flag");
      flags[current].push_back(token);
    }
  }
  return flags;
}

}  // namespace

models::ModelSpec spec_from_official_args(const std::string& args, int64_t num_classes,
                                          int64_t image_size) {
  const auto flags = parse_flags(args);
  auto value = [&](const std::string& flag, int64_t fallback) -> int64_t {
    auto it = flags.find(flag);
    if (it == flags.end()) return fallback;
    SVANET_CHECK(it->second.size() == 1, "official flag --", flag, " expects one value");
    try {
      return utils::parse_int(it->second[0]);
    } catch (const Error& e) {
      SVANET_FAIL("official flag --", flag, ": ", e.what());
    }
  };
  auto present = [&](const std::string& flag) { return flags.count(flag) > 0; };
  auto require = [&](bool ok, const std::string& flag, const std::string& why) {
    SVANET_CHECK(ok, "official flag --", flag, ": ", why);
  };

  std::string encoder = "resnet50";
  if (auto it = flags.find("model_name"); it != flags.end() && !it->second.empty()) {
    encoder = it->second[0];
  }
  int64_t depth = 0;
  if (encoder == "resnet50") depth = 50;
  if (encoder == "resnet34") depth = 34;
  if (encoder == "resnet18") depth = 18;
  require(depth != 0, "model_name",
          "svanet implements resnet18, resnet34 and resnet50, not '" + encoder + "'");
  if (auto it = flags.find("seg_head_name"); it != flags.end() && !it->second.empty()) {
    require(it->second[0] == "deeplabv3", "seg_head_name",
            "only the deeplabv3 head is implemented");
  }
  require(!present("use_sep_conv"), "use_sep_conv",
          "separable ASPP convolutions are not implemented");
  require(!present("use_aux_head"), "use_aux_head", "the auxiliary head is not implemented");

  models::ModelOptions options;
  options.num_classes(num_classes).image_size(image_size);
  const int64_t guide = value("seg_feature_guide", 0);
  require(guide == 0 || guide == 2, "seg_feature_guide",
          "svanet implements 0 (DeepLabv3) and 2 (SvANet), not " + std::to_string(guide));
  std::string name = "svanet_r" + std::to_string(depth);
  if (guide == 0) {
    if (depth == 50) {
      name = "deeplabv3_r50";
    } else {
      options.set("feature_guide", "false");
    }
    return {name, options};
  }
  require(value("fg_start_stage", 1) == 1, "fg_start_stage", "only stage 1 is implemented");
  require(value("fg_bottle", 1) == 1, "fg_bottle",
          "only the default bottleneck (1) is implemented");
  require(value("fg_vit_se", 0) == 0, "fg_vit_se",
          "attention inside AssembleFormer is not implemented");
  require(value("fg_link_vit_se", 0) == 0, "fg_link_vit_se",
          "attention inside AssembleFormer is not implemented");
  require(value("fg_seghead_vit", 0) == 0, "fg_seghead_vit",
          "a ViT after the head is not implemented");
  require(!present("fg_vit_all"), "fg_vit_all",
          "AssembleFormers on some branches only are not implemented");
  require(!present("fg_for_head"), "fg_for_head",
          "guiding the segmentation head is not implemented");
  require(!present("fg_cat_shuffle"), "fg_cat_shuffle",
          "shuffled concatenation is not implemented");
  require(value("fg_resize_stage", 0) == 0, "fg_resize_stage",
          "only resizing to stage 1 is implemented");

  const int64_t bottle_se = value("fg_bottle_se", 2);
  require(
      bottle_se == 0 || bottle_se == 2, "fg_bottle_se",
      "svanet implements 0 (none) and 2 (Monte Carlo attention), not " + std::to_string(bottle_se));
  if (bottle_se == 0) options.set("monte_carlo_attention", "false");
  const int64_t svattn = value("fg_svattn", 1);
  require(
      svattn == 0 || svattn == 1, "fg_svattn",
      "svanet implements 0 (none) and 1 (scale-variant attention), not " + std::to_string(svattn));
  if (svattn == 0) options.set("scale_variant_attention", "false");
  if (const int64_t divisor = value("fg_svattn_divisor", 4); divisor != 4) {
    options.set("svattn_pool_divisor", std::to_string(divisor));
  }
  const int64_t vit = value("fg_vit", 1);
  const int64_t link_vit = value("fg_link_vit", 1);
  require(vit == 0 || vit == 1, "fg_vit", "expected 0 or 1");
  require(link_vit == 0 || link_vit == 1, "fg_link_vit", "expected 0 or 1");
  // The official link decoder takes its AssembleFormer depth from the
  // bottlenecks', so a link former without bottleneck formers has no blocks.
  require(!(vit == 0 && link_vit == 1), "fg_link_vit",
          "link AssembleFormers without bottleneck ones are degenerate in the official code");
  if (vit == 0) options.set("bottleneck_former", "false");
  if (link_vit == 0) options.set("link_former", "false");
  const int64_t link = value("fg_link", 2);
  require(link >= 0 && link <= 2, "fg_link", "expected 0, 1 or 2");
  if (link == 0) options.set("link", "none");
  if (link == 1) options.set("link", "add");
  if (present("fg_use_guide")) options.set("cross_scale_guidance", "false");
  if (present("fg_nostage5")) options.set("stage5", "false");
  if (present("moc_order")) options.set("mc_shuffle", "false");
  if (auto it = flags.find("moc_pool_res"); it != flags.end()) {
    require(!it->second.empty(), "moc_pool_res", "expects at least one value");
    options.set("mc_pool_sizes", utils::join(it->second, ","));
  }
  return {name, options};
}

}  // namespace svanet::official
