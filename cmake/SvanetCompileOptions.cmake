# svanet_target_defaults(<target>): warnings, sanitizers and the LibTorch
# precompiled header for one of svanet's own targets.

add_library(svanet_compile_options INTERFACE)
target_compile_options(svanet_compile_options INTERFACE
  $<$<CXX_COMPILER_ID:GNU,Clang,AppleClang>:-Wall -Wextra>
  $<$<AND:$<BOOL:${SVANET_WARNINGS_AS_ERRORS}>,$<CXX_COMPILER_ID:GNU,Clang,AppleClang>>:-Werror>
  $<$<BOOL:${SVANET_SANITIZE}>:-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined>)
target_link_options(svanet_compile_options INTERFACE
  $<$<BOOL:${SVANET_SANITIZE}>:-fsanitize=address,undefined>)

# The precompiled header is built once, by the library, and reused by the
# programs and tests that share its flags.
set(SVANET_PCH_HEADERS <torch/torch.h> <vector> <string> <map> <memory>)

function(svanet_target_defaults target)
  # spdlog's compile definitions are part of the precompiled header's
  # settings, so every target that shares it links spdlog.
  target_link_libraries(${target} PRIVATE $<BUILD_INTERFACE:svanet_compile_options> spdlog::spdlog)
  if(SVANET_USE_PCH)
    # A shared library is compiled with -fPIC, programs are not: their
    # precompiled headers cannot be shared then.
    if(target STREQUAL "svanet" OR BUILD_SHARED_LIBS)
      target_precompile_headers(${target} PRIVATE ${SVANET_PCH_HEADERS})
    else()
      target_precompile_headers(${target} REUSE_FROM svanet)
    endif()
  endif()
endfunction()
