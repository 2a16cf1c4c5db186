# Installs this build into a temporary prefix, then configures, builds and
# runs one of examples/ against it as an outside project would: only the
# install prefix and LibTorch, not the source tree or the build. Run by CTest:
#   cmake -DBUILD_DIR=... -DSOURCE_DIR=... -DWORK_DIR=... -DTORCH_DIR=...
#         -DGENERATOR=... -DEXAMPLE=segment_tensor|predict_image
#         [-DLAUNCHER=ccache] -P build_example.cmake
foreach(var BUILD_DIR SOURCE_DIR WORK_DIR TORCH_DIR GENERATOR EXAMPLE)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "build_example.cmake: ${var} is not set")
  endif()
endforeach()

function(run_step what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE err)
  set(step_status "${status}" PARENT_SCOPE)
  set(step_output "${out}${err}" PARENT_SCOPE)
  if(NOT status EQUAL 0 AND NOT what STREQUAL "running the example")
    message(FATAL_ERROR "${what} failed (${status}):\n${out}\n${err}")
  endif()
endfunction()

file(REMOVE_RECURSE "${WORK_DIR}")
set(prefix "${WORK_DIR}/prefix")
run_step("cmake --install" ${CMAKE_COMMAND} --install "${BUILD_DIR}" --prefix "${prefix}")
if(NOT EXISTS "${prefix}/include/svanet/core.h")
  message(FATAL_ERROR "the install put no svanet/core.h under ${prefix}/include")
endif()

set(launcher)
if(LAUNCHER)
  set(launcher "-DCMAKE_CXX_COMPILER_LAUNCHER=${LAUNCHER}")
endif()
run_step("configuring the example"
  ${CMAKE_COMMAND} -S "${SOURCE_DIR}/examples/${EXAMPLE}" -B "${WORK_DIR}/build"
  -G "${GENERATOR}" -DCMAKE_BUILD_TYPE=Release "-DCMAKE_PREFIX_PATH=${prefix}"
  "-DTorch_DIR=${TORCH_DIR}" ${launcher})
run_step("building the example" ${CMAKE_COMMAND} --build "${WORK_DIR}/build")

if(EXAMPLE STREQUAL "segment_tensor")
  run_step("running the example" "${WORK_DIR}/build/segment_tensor" svanet_test 64)
  set(expected_status 0)
  set(expected "registered models:.* one_conv"
               "one_conv: checkpoint one_conv reloads with the same labels"
               "svanet_test: checkpoint svanet_test reloads with the same labels"
               "svanet_test: predictor labels 101 x 133 \\(sliding\\), 3 classes")
else()
  # It runs in-tree on a trained checkpoint (tests/engine/test_predict.cpp);
  # here it shows that it links and starts.
  run_step("running the example" "${WORK_DIR}/build/${EXAMPLE}")
  set(expected_status 2)
  set(expected "usage: .*${EXAMPLE} CHECKPOINT")
endif()
message("${step_output}")
if(NOT step_status EQUAL expected_status)
  message(FATAL_ERROR "the example exited with ${step_status}, not ${expected_status}")
endif()
foreach(pattern ${expected})
  if(NOT step_output MATCHES "${pattern}")
    message(FATAL_ERROR "the example's output lacks '${pattern}'")
  endif()
endforeach()

# svanet::core's users get its link option that makes libstdc++ the first
# needed library (src/core/CMakeLists.txt).
find_program(READELF readelf)
if(CMAKE_HOST_SYSTEM_NAME STREQUAL "Linux" AND READELF)
  run_step("readelf" "${READELF}" -d "${WORK_DIR}/build/${EXAMPLE}")
  string(REGEX MATCH "\\(NEEDED\\)[^[]*\\[([^]]*)\\]" first_needed "${step_output}")
  set(first_needed "${CMAKE_MATCH_1}")
  if(NOT first_needed MATCHES "^libstdc\\+\\+\\.so")
    message(FATAL_ERROR "the example's first needed library is '${first_needed}', not libstdc++")
  endif()
  message("first needed library: ${first_needed}")
endif()
file(REMOVE_RECURSE "${WORK_DIR}")
