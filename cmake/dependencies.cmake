# Finds each third-party dependency as an installed package first (Debian's -dev packages, vcpkg, conan,
# ...); where none is installed, fetches its source with FetchContent. Only what the enabled parts of the
# project need is looked up.
include(FetchContent)
# Fetched projects' option() calls honour the plain variables set below, so nothing is forced into the cache.
set(CMAKE_POLICY_DEFAULT_CMP0077 NEW)

# allocation_find_or_fetch(<package> <target> <git-url> <git-tag>)
macro(allocation_find_or_fetch package target url tag)
  if(NOT TARGET ${target})
    find_package(${package} CONFIG QUIET)
  endif()
  if(NOT TARGET ${target})
    message(STATUS "allocation: ${package} is not installed; fetching ${url} at ${tag}")
    FetchContent_Declare(${package} GIT_REPOSITORY ${url} GIT_TAG ${tag} GIT_SHALLOW TRUE)
    FetchContent_MakeAvailable(${package})
  endif()
endmacro()

allocation_find_or_fetch(fmt fmt::fmt https://github.com/fmtlib/fmt.git 10.2.1)

if(ALLOCATION_BUILD_TESTS)
  allocation_find_or_fetch(Catch2 Catch2::Catch2WithMain https://github.com/catchorg/Catch2.git v3.5.2)
endif()
if(ALLOCATION_BUILD_BENCH)
  set(BENCHMARK_ENABLE_TESTING OFF)
  allocation_find_or_fetch(benchmark benchmark::benchmark https://github.com/google/benchmark.git v1.8.3)
endif()

if(ALLOCATION_WITH_SQLITE)
  allocation_find_or_fetch(SQLiteCpp SQLiteCpp https://github.com/SRombauts/SQLiteCpp.git 3.3.1)
endif()

# JSON for the Redis adapter's messages and the HTTP adapter.
if(ALLOCATION_WITH_REDIS OR ALLOCATION_WITH_HTTP OR ALLOCATION_BUILD_EXAMPLES)
  allocation_find_or_fetch(nlohmann_json nlohmann_json::nlohmann_json https://github.com/nlohmann/json.git v3.11.3)
endif()

# hiredis: pkg-config first (Debian's libhiredis-dev ships no usable CMake target), then an installed CMake package
# (hiredis >= 1.0 exports hiredis::hiredis), then its source.
if(ALLOCATION_WITH_REDIS AND NOT TARGET allocation_hiredis)
  find_package(PkgConfig QUIET)
  if(PKG_CONFIG_FOUND)
    pkg_check_modules(allocation_pc_hiredis QUIET IMPORTED_TARGET hiredis)
  endif()
  add_library(allocation_hiredis INTERFACE IMPORTED)
  if(TARGET PkgConfig::allocation_pc_hiredis)
    target_link_libraries(allocation_hiredis INTERFACE PkgConfig::allocation_pc_hiredis)
  else()
    find_package(hiredis CONFIG QUIET)
    if(TARGET hiredis::hiredis)
      target_link_libraries(allocation_hiredis INTERFACE hiredis::hiredis)
    else()
      message(STATUS "allocation: hiredis is not installed; fetching it")
      set(DISABLE_TESTS ON)
      FetchContent_Declare(hiredis GIT_REPOSITORY https://github.com/redis/hiredis.git GIT_TAG v1.2.0 GIT_SHALLOW TRUE)
      FetchContent_MakeAvailable(hiredis)
      target_link_libraries(allocation_hiredis INTERFACE hiredis)
      target_include_directories(allocation_hiredis INTERFACE "${hiredis_SOURCE_DIR}/..")
    endif()
  endif()
endif()

# libpqxx: pkg-config first (Debian's libpqxx-dev 6.4 ships libpqxx.pc and no CMake package), then an installed
# CMake package (libpqxx 7 exports libpqxx::pqxx), then its source (7.x, which finds libpq itself). The adapter's
# code builds against 6.4 and 7.x, and its tests pass on both; to build against a local 7.x source where Debian's
# 6.4 is installed: PKG_CONFIG_LIBDIR=<a directory of .pc files without libpqxx.pc> cmake ...
# -DFETCHCONTENT_SOURCE_DIR_LIBPQXX=<the source>.
if(ALLOCATION_WITH_POSTGRES AND NOT TARGET allocation_pqxx)
  find_package(PkgConfig QUIET)
  if(PKG_CONFIG_FOUND)
    pkg_check_modules(allocation_pc_pqxx QUIET IMPORTED_TARGET libpqxx libpq)
  endif()
  add_library(allocation_pqxx INTERFACE IMPORTED)
  if(TARGET PkgConfig::allocation_pc_pqxx)
    target_link_libraries(allocation_pqxx INTERFACE PkgConfig::allocation_pc_pqxx)
  else()
    find_package(libpqxx CONFIG QUIET)
    if(TARGET libpqxx::pqxx)
      target_link_libraries(allocation_pqxx INTERFACE libpqxx::pqxx)
    else()
      message(STATUS "allocation: libpqxx is not installed; fetching it")
      set(SKIP_BUILD_TEST ON)
      FetchContent_Declare(libpqxx GIT_REPOSITORY https://github.com/jtv/libpqxx.git GIT_TAG 7.9.2 GIT_SHALLOW TRUE)
      FetchContent_MakeAvailable(libpqxx)
      target_link_libraries(allocation_pqxx INTERFACE pqxx)
    endif()
  endif()
endif()

# Boost.Beast and Boost.Asio (header-only) for the HTTP adapter, and CLI11 for the example programs' flags.
if((ALLOCATION_WITH_HTTP OR ALLOCATION_BUILD_EXAMPLES) AND NOT TARGET allocation_boost)
  find_package(Boost 1.74 CONFIG QUIET)
  add_library(allocation_boost INTERFACE IMPORTED)
  if(TARGET Boost::headers)
    target_link_libraries(allocation_boost INTERFACE Boost::headers)
  else()
    message(STATUS "allocation: Boost is not installed; fetching Boost 1.84 (Asio and Beast only)")
    set(BOOST_INCLUDE_LIBRARIES asio beast)
    FetchContent_Declare(Boost URL https://github.com/boostorg/boost/releases/download/boost-1.84.0/boost-1.84.0.tar.xz)
    FetchContent_MakeAvailable(Boost)
    target_link_libraries(allocation_boost INTERFACE Boost::asio Boost::beast)
  endif()
endif()
if(ALLOCATION_BUILD_EXAMPLES)
  allocation_find_or_fetch(CLI11 CLI11::CLI11 https://github.com/CLIUtils/CLI11.git v2.4.1)
endif()
