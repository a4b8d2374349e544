# Each part of the library is a component of the installed package: its own export set, its own
# allocation-<name>-config.cmake that finds only that part's dependencies, and its own headers.

# allocation_component(<name> <target> [FIND_DEPENDENCIES <package>...] [REQUIRES <component>...])
function(allocation_component name target)
  cmake_parse_arguments(PARSE_ARGV 2 arg "" "" "FIND_DEPENDENCIES;REQUIRES")
  if(NOT ALLOCATION_INSTALL)
    return()
  endif()
  set(config_dir "${CMAKE_INSTALL_DATADIR}/cmake/allocation")

  get_target_property(include_dirs ${target} INTERFACE_INCLUDE_DIRECTORIES)
  foreach(dir IN LISTS include_dirs)
    if(dir MATCHES "^\\$<BUILD_INTERFACE:(.*)>$")
      install(DIRECTORY "${CMAKE_MATCH_1}/" DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}" COMPONENT allocation_development)
    endif()
  endforeach()

  install(TARGETS ${target} EXPORT allocation-${name}-targets
          ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT allocation_development
          LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT allocation_runtime)
  install(EXPORT allocation-${name}-targets NAMESPACE allocation:: DESTINATION "${config_dir}"
          COMPONENT allocation_development)

  set(ALLOCATION_COMPONENT_DEPENDENCIES "")
  foreach(component IN LISTS arg_REQUIRES)
    string(APPEND ALLOCATION_COMPONENT_DEPENDENCIES
           "include(\"\${CMAKE_CURRENT_LIST_DIR}/allocation-${component}-config.cmake\")\n")
  endforeach()
  foreach(package IN LISTS arg_FIND_DEPENDENCIES)
    string(APPEND ALLOCATION_COMPONENT_DEPENDENCIES "find_dependency(${package})\n")
  endforeach()
  set(ALLOCATION_COMPONENT_NAME ${name})
  configure_file("${PROJECT_SOURCE_DIR}/cmake/allocation-component-config.cmake.in"
                 "${PROJECT_BINARY_DIR}/allocation-${name}-config.cmake" @ONLY)
  install(FILES "${PROJECT_BINARY_DIR}/allocation-${name}-config.cmake" DESTINATION "${config_dir}"
          COMPONENT allocation_development)
endfunction()

# allocation_add_adapter(<name> [LINK <item>...] [FIND_DEPENDENCIES <package>...] [REQUIRES <component>...])
# The header-only adapter target allocation_<name> (alias allocation::<name>) with the headers of the calling
# folder's include/, built on allocation::core (and the REQUIRES components it links), installed as component
# <name>.
function(allocation_add_adapter name)
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "" "LINK;FIND_DEPENDENCIES;REQUIRES")
  set(target allocation_${name})
  add_library(${target} INTERFACE)
  add_library(allocation::${name} ALIAS ${target})
  set_target_properties(${target} PROPERTIES EXPORT_NAME ${name})
  target_include_directories(${target} INTERFACE $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include>
                                                 $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  target_link_libraries(${target} INTERFACE allocation::core ${arg_LINK})
  allocation_component(${name} ${target} FIND_DEPENDENCIES ${arg_FIND_DEPENDENCIES} REQUIRES core ${arg_REQUIRES})
endfunction()
