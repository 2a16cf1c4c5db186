// How svanet's programs are linked: the C++ standard library comes from the
// compiler's libstdc++.so.6, loaded ahead of LibTorch. PyTorch's wheels
// export a statically linked part of libstdc++ from libtorch_cpu.so
// (pytorch/pytorch#133437); a test program that took its std:: symbols from
// there crashed in every std::filesystem call on a GPU machine with PyTorch
// 2.11 (src/core/CMakeLists.txt). A program's libraries load in the order of
// its needed list, so this checks that svanet::core's link line names
// libstdc++ first, and that libstdc++ is what serves std::filesystem.
// core/linking/ reproduces the defect with a stand-in library.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#if defined(__linux__)
#include <link.h>

#include "core/linking/std_provider.h"
#endif

namespace svanet::test {
namespace {

#if defined(__linux__)
/// The shared objects of this process, in load order.
std::vector<std::string> loaded_objects() {
  std::vector<std::string> names;
  dl_iterate_phdr(
      [](dl_phdr_info* info, size_t /*size*/, void* data) {
        static_cast<std::vector<std::string>*>(data)->emplace_back(
            info->dlpi_name != nullptr ? info->dlpi_name : "");
        return 0;
      },
      &names);
  return names;
}

/// Index of the first object whose path contains `part`, or the count.
size_t position(const std::vector<std::string>& names, const std::string& part) {
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i].find(part) != std::string::npos) return i;
  }
  return names.size();
}
#endif

TEST(Linking, TheStandardLibraryLoadsAheadOfLibTorch) {
#if defined(__linux__)
  const auto names = loaded_objects();
  std::string listed;
  for (const auto& n : names) listed += "\n  " + n;
  const size_t torch_cpu = position(names, "libtorch_cpu.so");
  if (torch_cpu == names.size()) GTEST_SKIP() << "no libtorch_cpu.so in this process:" << listed;
  const size_t standard = position(names, "libstdc++.so");
  ASSERT_LT(standard, names.size()) << "libstdc++ is not loaded:" << listed;
  EXPECT_LT(standard, torch_cpu) << "libtorch_cpu.so loads before libstdc++:" << listed;
#else
  GTEST_SKIP() << "the load order is checked on Linux only";
#endif
}

TEST(Linking, LibstdcxxServesTheStandardLibrary) {
#if defined(__linux__) && defined(__GLIBCXX__)
  EXPECT_TRUE(libstdcxx_serves_the_standard_library());
#else
  GTEST_SKIP() << "checked on Linux with libstdc++ only";
#endif
}

}  // namespace
}  // namespace svanet::test
