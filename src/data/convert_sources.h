#pragma once
// The built-in dataset converters (private to the library).

#include "svanet/data/convert_writer.h"

namespace svanet::data {

/// Adds `dsb2018`, `idrid` and `kvasir` to `registry`.
void register_builtin_converters(ConverterRegistry& registry);

}  // namespace svanet::data
