# Install rules: the libraries, their public headers, the CLI and a CMake
# package with two components:
#   find_package(svanet REQUIRED COMPONENTS core)  -> svanet::core (needs LibTorch only)
#   find_package(svanet REQUIRED)                  -> svanet::core and svanet::svanet
include(CMakePackageConfigHelpers)

install(TARGETS svanet_core svanet_compile_options
  EXPORT svanetCoreTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/core/svanet DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(FILES ${PROJECT_BINARY_DIR}/generated/svanet/version.h
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/svanet)
install(EXPORT svanetCoreTargets
  NAMESPACE svanet::
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/svanet)

if(TARGET svanet)
  install(TARGETS svanet
    EXPORT svanetTargets
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
    RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/svanet DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
  install(EXPORT svanetTargets
    NAMESPACE svanet::
    DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/svanet)
endif()
if(TARGET svanet_cli)
  install(TARGETS svanet_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()

configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/svanetConfig.cmake.in
  ${PROJECT_BINARY_DIR}/svanetConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/svanet)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/svanetConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/svanetConfig.cmake ${PROJECT_BINARY_DIR}/svanetConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/svanet)
