#pragma once
/// @file
/// Text helpers for options given as strings (YAML, command line, checkpoints).
/// The parse functions throw svanet::Error saying what they expected.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace svanet::utils {

std::string trim(const std::string& s);
std::string to_lower(std::string s);
std::string join(const std::vector<std::string>& parts, const std::string& separator);
std::vector<std::string> split(const std::string& s, char separator);
/// `text` without `suffix` when it ends with it and something is left; nothing otherwise.
std::optional<std::string> strip_suffix(const std::string& text, const std::string& suffix);

/// The candidate nearest to `word` when it is a likely typo of it (at most
/// 1 edit for short words, 2 for longer ones, 3 from 12 characters; case
/// ignored), else empty: the "did you mean" of messages.
std::string closest_match(const std::string& word, const std::vector<std::string>& candidates);
/// " (did you mean 'X'?)" for closest_match, or empty.
std::string did_you_mean(const std::string& word, const std::vector<std::string>& candidates);

/// Base64 (RFC 4648, with padding) of bytes, for data: URLs.
std::string base64_encode(const std::string& bytes);
/// Text safe inside HTML elements and attribute values.
std::string html_escape(const std::string& text);
/// A CSV cell: quoted, with doubled quotes, when it holds a comma, a quote or a newline.
std::string csv_field(const std::string& text);
/// A number for a CSV cell: 8 significant digits; empty for NaN and infinities.
std::string csv_number(double v);
/// The shortest decimal text that reads back as the same double ("0.1",
/// "1e-06", "0.30000000000000004").
std::string format_number(double v);

/// A whole decimal integer, e.g. "42" or "-3".
int64_t parse_int(const std::string& s);
/// A whole floating-point number, e.g. "0.1" or "1e-3".
double parse_double(const std::string& s);
/// true/false, yes/no, on/off, 1/0 (any case).
bool parse_bool(const std::string& s);
/// Integers separated by commas or spaces, optionally in brackets: "1,2,3",
/// "[1, 2, 3]", "1 2 3".
std::vector<int64_t> parse_int_list(const std::string& s);

}  // namespace svanet::utils
