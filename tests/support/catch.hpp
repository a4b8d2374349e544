// One include for Catch2, whichever major version is installed (Debian ships v2, elsewhere v3 is common).
#pragma once

#if __has_include(<catch2/catch_all.hpp>)
#include <catch2/catch_all.hpp>
#else
#include <catch2/catch.hpp>
#endif
