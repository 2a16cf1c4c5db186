#include "svanet/runtime/heap.h"

#include <cstdlib>
#include <cstring>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace svanet::runtime {

namespace {

bool set(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0';
}

}  // namespace

std::string keep_freed_memory() {
  const char* choice = std::getenv("SVANET_MALLOC");
  if (choice != nullptr && std::strcmp(choice, "system") == 0) {
    return "heap: the C library's defaults (SVANET_MALLOC=system)";
  }
#if defined(__GLIBC__)
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  if ((tunables != nullptr && std::strstr(tunables, "glibc.malloc.") != nullptr) ||
      set("MALLOC_MMAP_MAX_") || set("MALLOC_MMAP_THRESHOLD_") || set("MALLOC_TRIM_THRESHOLD_") ||
      set("MALLOC_TOP_PAD_")) {
    return "heap: glibc malloc as the environment sets it";
  }
  // Documented in mallopt(3): 0 mappings of its own for large blocks, and
  // -1 turns trimming off.
  if (mallopt(M_MMAP_MAX, 0) == 1 && mallopt(M_TRIM_THRESHOLD, -1) == 1) {
    return "heap: freed memory kept for reuse (SVANET_MALLOC=system for glibc's defaults)";
  }
  return "heap: glibc malloc refused the settings; its defaults stay";
#else
  return "heap: the C library's defaults (not glibc)";
#endif
}

}  // namespace svanet::runtime
