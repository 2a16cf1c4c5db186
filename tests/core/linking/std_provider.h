#pragma once
// Which loaded object serves a standard-library symbol to this program:
// the one the dynamic linker binds the program's references to (the first
// definition in load order).

#include <dlfcn.h>
#include <gtest/gtest.h>

#include <string>

namespace svanet::test {

/// std::filesystem::current_path(), as the C++11 ABI of libstdc++ names it
/// (GCC 9 and later).
inline constexpr const char* kCurrentPathSymbol = "_ZNSt10filesystem12current_pathB5cxx11Ev";

/// Path of the object that defines `symbol` first in this process's global
/// scope; empty when none does.
inline std::string provider_of(const char* symbol) {
  void* address = dlsym(RTLD_DEFAULT, symbol);
  if (address == nullptr) return {};
  Dl_info info{};
  if (dladdr(address, &info) == 0 || info.dli_fname == nullptr) return {};
  return info.dli_fname;
}

/// Success when libstdc++ serves std::filesystem::current_path to this
/// program; otherwise a failure that names the object that does.
inline ::testing::AssertionResult libstdcxx_serves_the_standard_library() {
  const std::string provider = provider_of(kCurrentPathSymbol);
  if (provider.empty()) {
    return ::testing::AssertionFailure() << "no loaded object defines " << kCurrentPathSymbol;
  }
  if (provider.find("libstdc++.so") == std::string::npos) {
    return ::testing::AssertionFailure()
           << "std::filesystem::current_path comes from " << provider << ", not libstdc++";
  }
  return ::testing::AssertionSuccess();
}

}  // namespace svanet::test
