# Install rules: the library, its public headers, the CLI and a CMake
# package (find_package(svanet) -> svanet::svanet).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(TARGETS svanet svanet_compile_options
  EXPORT svanetTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/svanet DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(FILES ${PROJECT_BINARY_DIR}/generated/svanet/version.h
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/svanet)
if(TARGET svanet_cli)
  install(TARGETS svanet_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()

install(EXPORT svanetTargets
  NAMESPACE svanet::
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/svanet)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/svanetConfig.cmake.in
  ${PROJECT_BINARY_DIR}/svanetConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/svanet)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/svanetConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/svanetConfig.cmake ${PROJECT_BINARY_DIR}/svanetConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/svanet)
