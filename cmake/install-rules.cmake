# The package's top-level config and version files; the components install themselves
# (cmake/components.cmake).
include(CMakePackageConfigHelpers)

set(ALLOCATION_CONFIG_DIR "${CMAKE_INSTALL_DATADIR}/cmake/allocation")
configure_package_config_file(cmake/allocationConfig.cmake.in "${PROJECT_BINARY_DIR}/allocationConfig.cmake"
                              INSTALL_DESTINATION "${ALLOCATION_CONFIG_DIR}")
# Every component but http is header-only: without it, one installed tree serves any architecture.
if(TARGET allocation_http)
  set(allocation_arch_independent "")
else()
  set(allocation_arch_independent ARCH_INDEPENDENT)
endif()
write_basic_package_version_file("${PROJECT_BINARY_DIR}/allocationConfigVersion.cmake"
                                 COMPATIBILITY SameMajorVersion ${allocation_arch_independent})
install(FILES "${PROJECT_BINARY_DIR}/allocationConfig.cmake" "${PROJECT_BINARY_DIR}/allocationConfigVersion.cmake"
        DESTINATION "${ALLOCATION_CONFIG_DIR}" COMPONENT allocation_development)
install(FILES LICENSE README.md DESTINATION "${CMAKE_INSTALL_DATADIR}/doc/allocation" COMPONENT allocation_development)
