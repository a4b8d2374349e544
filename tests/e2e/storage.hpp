// The storage a test runs the service on: every test that does not care runs on each of them.
#pragma once

#include <algorithm>
#include <cctype>
#include <string>
#include <vector>

#include "processes.hpp"
#include "support/catch.hpp"
#if ALLOCATION_E2E_POSTGRES
#include "support/postgres_cluster.hpp"
#endif

namespace e2e {

#if ALLOCATION_E2E_POSTGRES
/// The PostgreSQL cluster of this test program, started when a test first needs it and stopped at exit; each
/// test has a database of its own in it (postgres_database).
inline allocation::testing::PostgresCluster& postgres_cluster() {
    static allocation::testing::PostgresCluster cluster;
    return cluster;
}

/// The URI of the database that belongs to `dir` (named after it), created the first time it is asked for.
inline std::string postgres_database(const TempDir& dir) {
    std::string name = "e2e_" + dir.path().filename().string();
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return std::isalnum(c) ? static_cast<char>(std::tolower(c)) : '_'; });
    auto& cluster = postgres_cluster();
    if (cluster.sql("SELECT count(*) FROM pg_database WHERE datname = '" + name + "'", "postgres") == "0\n") {
        return cluster.create_database(name);
    }
    return cluster.uri(name);
}
#endif

/// The server flags for the storage named `kind` ("memory", "sqlite" or "postgres"); a SQLite file lives in
/// `dir`, and a PostgreSQL database is named after it.
inline std::vector<std::string> storage_args(const std::string& kind, const TempDir& dir) {
    if (kind == "sqlite") return {"--db", (dir / "allocation.db").string()};
#if ALLOCATION_E2E_POSTGRES
    if (kind == "postgres") return {"--postgres", postgres_database(dir)};
#endif
    return {"--memory"};
}

}  // namespace e2e

#if ALLOCATION_E2E_SQLITE && ALLOCATION_E2E_POSTGRES
#define E2E_STORAGE() GENERATE(as<std::string>{}, "sqlite", "postgres", "memory")
#elif ALLOCATION_E2E_SQLITE
#define E2E_STORAGE() GENERATE(as<std::string>{}, "sqlite", "memory")
#elif ALLOCATION_E2E_POSTGRES
#define E2E_STORAGE() GENERATE(as<std::string>{}, "postgres", "memory")
#else
#define E2E_STORAGE() GENERATE(as<std::string>{}, "memory")
#endif

/// The storages that keep data across restarts of the server.
#if ALLOCATION_E2E_SQLITE && ALLOCATION_E2E_POSTGRES
#define E2E_DURABLE_STORAGE() GENERATE(as<std::string>{}, "sqlite", "postgres")
#elif ALLOCATION_E2E_SQLITE
#define E2E_DURABLE_STORAGE() GENERATE(as<std::string>{}, "sqlite")
#elif ALLOCATION_E2E_POSTGRES
#define E2E_DURABLE_STORAGE() GENERATE(as<std::string>{}, "postgres")
#endif
