// The storage a test runs the service on: every test that does not care runs on each of them.
#pragma once

#include <string>
#include <vector>

#include "processes.hpp"
#include "support/catch.hpp"

namespace e2e {

/// The server flags for the storage named `kind` ("memory" or "sqlite"); a SQLite file lives in `dir`.
inline std::vector<std::string> storage_args(const std::string& kind, const TempDir& dir) {
    if (kind == "sqlite") return {"--db", (dir / "allocation.db").string()};
    return {"--memory"};
}

}  // namespace e2e

#if ALLOCATION_E2E_SQLITE
#define E2E_STORAGE() GENERATE(as<std::string>{}, "sqlite", "memory")
#else
#define E2E_STORAGE() GENERATE(as<std::string>{}, "memory")
#endif
