# svanet_target_defaults(<target>): warnings, sanitizers and the LibTorch
# precompiled header for one of svanet's own targets.

add_library(svanet_compile_options INTERFACE)
target_compile_options(svanet_compile_options INTERFACE
  $<$<CXX_COMPILER_ID:GNU,Clang,AppleClang>:-Wall -Wextra>
  $<$<AND:$<BOOL:${SVANET_WARNINGS_AS_ERRORS}>,$<CXX_COMPILER_ID:GNU,Clang,AppleClang>>:-Werror>
  $<$<BOOL:${SVANET_SANITIZE}>:-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined>)
target_link_options(svanet_compile_options INTERFACE
  $<$<BOOL:${SVANET_SANITIZE}>:-fsanitize=address,undefined>)

# The precompiled header is built once, by svanet::core, and reused by the
# pipeline library, the programs and the tests. They add compile
# definitions of their own (spdlog's), which is fine: none of them is used
# by the headers in the PCH. -Winvalid-pch says so should that change.
set(SVANET_PCH_HEADERS <torch/torch.h> <vector> <string> <map> <memory>)

function(svanet_target_defaults target)
  target_link_libraries(${target} PRIVATE $<BUILD_INTERFACE:svanet_compile_options>)
  if(SVANET_USE_PCH)
    target_compile_options(${target} PRIVATE $<$<CXX_COMPILER_ID:GNU>:-Winvalid-pch>)
    # A shared library is compiled with -fPIC, programs are not: their
    # precompiled headers cannot be shared then.
    if(target STREQUAL "svanet_core" OR BUILD_SHARED_LIBS)
      target_precompile_headers(${target} PRIVATE ${SVANET_PCH_HEADERS})
    else()
      target_precompile_headers(${target} REUSE_FROM svanet_core)
    endif()
  endif()
endfunction()
