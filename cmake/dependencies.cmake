# Finds each third-party dependency as an installed package first (Debian's -dev packages, vcpkg, conan,
# ...); where none is installed, fetches its source with FetchContent. Only what the enabled parts of the
# project need is looked up.
include(FetchContent)

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
  set(BENCHMARK_ENABLE_TESTING OFF CACHE BOOL "" FORCE)
  allocation_find_or_fetch(benchmark benchmark::benchmark https://github.com/google/benchmark.git v1.8.3)
endif()

if(ALLOCATION_WITH_SQLITE)
  allocation_find_or_fetch(SQLiteCpp SQLiteCpp https://github.com/SRombauts/SQLiteCpp.git 3.3.1)
endif()
