#include "support/test_support.h"

#include "svanet/utils/text.h"

#include <cmath>
#include <limits>

namespace svanet::test {
namespace {

TEST(Text, SuggestsTheNearestNameForATypoOnly) {
  const std::vector<std::string> commands = {"train", "evaluate", "predict", "export"};
  EXPECT_EQ(utils::closest_match("evalute", commands), "evaluate");
  EXPECT_EQ(utils::closest_match("trian", commands), "train");  // a transposition
  EXPECT_EQ(utils::closest_match("PREDICT", commands), "predict");
  EXPECT_EQ(utils::closest_match("fit", commands), "");
  EXPECT_EQ(utils::closest_match("xyzzy", commands), "");
  EXPECT_EQ(utils::did_you_mean("svanet_r19", {"svanet_r18", "svanet_r50"}),
            " (did you mean 'svanet_r18'?)");
  EXPECT_EQ(utils::did_you_mean("train", commands), "");
  EXPECT_EQ(utils::did_you_mean("anything", {}), "");
}

TEST(Text, ParsesIntegersStrictly) {
  EXPECT_EQ(utils::parse_int(" 42 "), 42);
  EXPECT_EQ(utils::parse_int("-3"), -3);
  ASSERT_THROWS_WITH(utils::parse_int("4x"), "expected an integer, got '4x'");
  ASSERT_THROWS_WITH(utils::parse_int(""), "expected an integer");
}

TEST(Text, ParsesNumbersAndBooleans) {
  EXPECT_DOUBLE_EQ(utils::parse_double("1e-3"), 1e-3);
  ASSERT_THROWS_WITH(utils::parse_double("0.1.2"), "expected a number");
  EXPECT_TRUE(utils::parse_bool("Yes"));
  EXPECT_TRUE(utils::parse_bool("true"));
  EXPECT_FALSE(utils::parse_bool("OFF"));
  EXPECT_FALSE(utils::parse_bool("0"));
  ASSERT_THROWS_WITH(utils::parse_bool("maybe"), "expected true or false, got 'maybe'");
}

TEST(Text, ParsesIntegerListsInEveryCommonForm) {
  const std::vector<int64_t> expected{1, 2, 3};
  EXPECT_EQ(utils::parse_int_list("1,2,3"), expected);
  EXPECT_EQ(utils::parse_int_list("[1, 2, 3]"), expected);
  EXPECT_EQ(utils::parse_int_list("1 2 3"), expected);
  ASSERT_THROWS_WITH(utils::parse_int_list("[]"), "expected a list of integers");
  ASSERT_THROWS_WITH(utils::parse_int_list("1,b"), "expected an integer, got 'b'");
}

TEST(Text, StripsSuffixesOnlyWhenSomethingRemains) {
  EXPECT_EQ(utils::strip_suffix("case_001_0000", "_0000"), std::optional<std::string>("case_001"));
  EXPECT_EQ(utils::strip_suffix("_0000", "_0000"), std::nullopt);
  EXPECT_EQ(utils::strip_suffix("im1.nii", ".nii.gz"), std::nullopt);
}

TEST(Text, Base64AndHtmlEscaping) {
  // RFC 4648's test vectors.
  EXPECT_EQ(utils::base64_encode(""), "");
  EXPECT_EQ(utils::base64_encode("f"), "Zg==");
  EXPECT_EQ(utils::base64_encode("fo"), "Zm8=");
  EXPECT_EQ(utils::base64_encode("foo"), "Zm9v");
  EXPECT_EQ(utils::base64_encode("foob"), "Zm9vYg==");
  EXPECT_EQ(utils::base64_encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(utils::base64_encode(std::string("\xff\x00\x10", 3)), "/wAQ");
  EXPECT_EQ(utils::html_escape("a<b & \"c\" 'd'>"), "a&lt;b &amp; &quot;c&quot; &#39;d&#39;&gt;");
}

TEST(Text, CsvCellsQuoteWhatNeedsItAndLeaveNonFiniteNumbersEmpty) {
  EXPECT_EQ(utils::csv_field("case_01"), "case_01");
  EXPECT_EQ(utils::csv_field("a,b"), "\"a,b\"");
  EXPECT_EQ(utils::csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(utils::csv_field("two\nlines"), "\"two\nlines\"");
  EXPECT_EQ(utils::csv_number(0.123456789), "0.12345679");
  EXPECT_EQ(utils::csv_number(42.0), "42");
  EXPECT_EQ(utils::csv_number(std::nan("")), "");
  EXPECT_EQ(utils::csv_number(-std::numeric_limits<double>::infinity()), "");
}

}  // namespace
}  // namespace svanet::test
