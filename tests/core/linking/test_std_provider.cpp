// Reproduces, without a GPU machine, the link defect that crashed every
// std::filesystem call of svanet's tests against PyTorch 2.11's wheel
// LibTorch (src/core/CMakeLists.txt): a library ahead of libstdc++.so.6
// exports its own copy of the standard library, and a program linked with
// --as-needed (Ubuntu's default) then takes its std:: symbols from there.
// This file is built twice (tests/CMakeLists.txt), both times with
// --as-needed and with the stand-in library wheel_like.cpp listed first:
//  - svanet_linking_tests links svanet::core after it, and so gets
//    svanet::core's link option: libstdc++ must serve the program;
//  - svanet_linking_control does not: the stand-in serves it, which shows
//    that the trap is set and that the check can fail.

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "std_provider.h"

#if SVANET_LINKS_CORE
#include <torch/torch.h>
#endif

extern "C" int svanet_wheel_like_file_name_length(const char* path);

namespace svanet::test {
namespace {

/// The stand-in library's path, after checking that it is loaded and
/// exports std::filesystem (without that the test would prove nothing).
std::string stand_in_exporting_the_standard_library() {
  EXPECT_EQ(svanet_wheel_like_file_name_length("a/bc"), 2);
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&svanet_wheel_like_file_name_length), &info) == 0 ||
      info.dli_fname == nullptr) {
    ADD_FAILURE() << "dladdr found no object for the stand-in library's function";
    return {};
  }
  void* handle = dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD);
  if (handle == nullptr) {
    ADD_FAILURE() << info.dli_fname << " is not loaded";
    return {};
  }
  const bool exports = dlsym(handle, kCurrentPathSymbol) != nullptr;
  dlclose(handle);
  if (!exports) {
    ADD_FAILURE() << info.dli_fname << " does not export " << kCurrentPathSymbol;
    return {};
  }
  return info.dli_fname;
}

#if SVANET_LINKS_CORE
TEST(Linking, LibstdcxxServesTheProgramThoughALibraryAheadOfItExportsAnother) {
  const std::string stand_in = stand_in_exporting_the_standard_library();
  ASSERT_FALSE(stand_in.empty());
  EXPECT_EQ(torch::ones({3}).sum().item<float>(), 3.0F);  // LibTorch is linked and loaded
  EXPECT_TRUE(libstdcxx_serves_the_standard_library());
  EXPECT_FALSE(std::filesystem::current_path().empty());
}
#else
TEST(LinkingControl, WithoutSvanetCoreTheLibraryAheadOfLibstdcxxServesTheProgram) {
  const std::string stand_in = stand_in_exporting_the_standard_library();
  ASSERT_FALSE(stand_in.empty());
  EXPECT_EQ(provider_of(kCurrentPathSymbol), stand_in);
}
#endif

}  // namespace
}  // namespace svanet::test
