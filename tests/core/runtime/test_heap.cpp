// The heap policy of svanet's programs: the user's settings win (svanet's
// switch, glibc's own), and otherwise glibc's malloc serves a large block
// from its heap instead of a mapping of its own.

#include "support/test_support.h"

#include "svanet/runtime/heap.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace svanet::test {
namespace {

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(Heap, TheUsersSettingsWin) {
  {
    const ScopedEnvironment system("SVANET_MALLOC", "system");
    EXPECT_TRUE(contains(runtime::keep_freed_memory(), "SVANET_MALLOC=system"));
  }
#if defined(__GLIBC__)
  const ScopedEnvironment svanet("SVANET_MALLOC", "");
  for (const auto& [name, value] : std::vector<std::pair<std::string, std::string>>{
           {"GLIBC_TUNABLES", "glibc.malloc.mmap_threshold=65536"},
           {"MALLOC_MMAP_MAX_", "65536"},
           {"MALLOC_TRIM_THRESHOLD_", "131072"}}) {
    const ScopedEnvironment user(name, value);
    EXPECT_TRUE(contains(runtime::keep_freed_memory(), "as the environment sets it")) << name;
  }
#endif
}

#if defined(__GLIBC__) && __GLIBC_PREREQ(2, 33) && !defined(__SANITIZE_ADDRESS__)
TEST(Heap, ALargeBlockComesFromTheHeap) {
  const ScopedEnvironment svanet("SVANET_MALLOC", "");
  const ScopedEnvironment tunables("GLIBC_TUNABLES", "");
  const ScopedEnvironment mmap_max("MALLOC_MMAP_MAX_", "");
  const ScopedEnvironment threshold("MALLOC_MMAP_THRESHOLD_", "");
  const ScopedEnvironment trim("MALLOC_TRIM_THRESHOLD_", "");
  const ScopedEnvironment pad("MALLOC_TOP_PAD_", "");
  ASSERT_TRUE(contains(runtime::keep_freed_memory(), "freed memory kept"));
  const size_t mapped_before = mallinfo2().hblks;
  // 64 MiB: twice the largest threshold glibc would raise its own to.
  void* block = std::malloc(size_t{64} << 20);
  ASSERT_NE(block, nullptr);
  const size_t mapped_with_block = mallinfo2().hblks;
  std::free(block);
  EXPECT_EQ(mapped_with_block, mapped_before) << "the block was given a mapping of its own";
}
#endif

}  // namespace
}  // namespace svanet::test
