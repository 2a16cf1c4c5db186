// A stand-in for the LibTorch of PyTorch's wheels (pytorch/pytorch#133437):
// a shared library linked with its own static copy of libstdc++ and
// exporting it, std::filesystem among it. tests/CMakeLists.txt builds it
// with -static-libstdc++; test_std_provider.cpp checks which library then
// serves a program's standard-library symbols.

#include <filesystem>
#include <string>

/// Pulls std::filesystem's paths and operations out of the static
/// libstdc++ into this library. Returns the length of `path`'s file name.
extern "C" __attribute__((visibility("default"))) int svanet_wheel_like_file_name_length(
    const char* path) {
  const std::filesystem::path p(path);
  const bool here = std::filesystem::current_path() == p;
  return static_cast<int>(p.filename().string().size()) + (here ? 1 : 0);
}
