// The adapters the contract suite runs against: each gives a unit-of-work factory, a read model and an outbox.
#pragma once

#include <tuple>

#include "allocation/adapters/memory/memory.hpp"
#ifdef ALLOCATION_CONTRACT_WITH_SQLITE
#include "allocation/adapters/sqlite/sqlite.hpp"
#endif
#ifdef ALLOCATION_CONTRACT_WITH_CSV
#include "allocation/adapters/csv/csv.hpp"
#endif
#ifdef ALLOCATION_CONTRACT_WITH_POSTGRES
#include <atomic>
#include <string>

#include "allocation/adapters/postgres/postgres.hpp"
#include "postgres_cluster.hpp"
#endif
#include "temp_dir.hpp"

namespace allocation::contract {

struct MemoryAdapter {
    static constexpr const char* name = "memory";
    memory::Store store;
    memory::UnitOfWorkFactory factory() { return memory::UnitOfWorkFactory(store); }
    memory::AllocationsView& view() { return store.allocations(); }
    memory::Outbox& outbox() { return store.outbox(); }
};

/// A fresh directory per adapter instance, removed with it (after the database is closed).
struct TempDirectory : testing::TempDir {
    TempDirectory() : testing::TempDir("allocation-contract") {}
};

#ifdef ALLOCATION_CONTRACT_WITH_CSV
/// An empty directory; every commit rewrites its files (csv::Options::save_on_commit).
struct CsvAdapter {
    static constexpr const char* name = "csv";
    TempDirectory directory;
    csv::Directory files{csv::Options{.directory = directory.path, .create = true}};
    csv::UnitOfWorkFactory factory() { return csv::UnitOfWorkFactory(files); }
    memory::AllocationsView& view() { return files.allocations(); }
    memory::Outbox& outbox() { return files.outbox(); }
};
#endif

#ifdef ALLOCATION_CONTRACT_WITH_SQLITE
struct SqliteFileAdapter {
    static constexpr const char* name = "sqlite-file";
    TempDirectory directory;
    sqlite::Database db{sqlite::Options{(directory.path / "allocation.db").string()}};
    sqlite::AllocationsView allocations_view{db};
    sqlite::Outbox stored_outbox{db};
    sqlite::UnitOfWorkFactory factory() { return sqlite::UnitOfWorkFactory(db); }
    sqlite::AllocationsView& view() { return allocations_view; }
    sqlite::Outbox& outbox() { return stored_outbox; }
};

struct SqliteMemoryAdapter {
    static constexpr const char* name = "sqlite-memory";
    sqlite::Database db{sqlite::Options{":memory:"}};
    sqlite::AllocationsView allocations_view{db};
    sqlite::Outbox stored_outbox{db};
    sqlite::UnitOfWorkFactory factory() { return sqlite::UnitOfWorkFactory(db); }
    sqlite::AllocationsView& view() { return allocations_view; }
    sqlite::Outbox& outbox() { return stored_outbox; }
};

#endif

#ifdef ALLOCATION_CONTRACT_WITH_POSTGRES
/// One PostgreSQL cluster for the test process, started on first use; a fresh database per adapter instance.
inline std::string fresh_postgres_database() {
    static testing::PostgresCluster cluster;
    static std::atomic<int> databases{0};
    return cluster.create_database("contract_" + std::to_string(databases++));
}

struct PostgresAdapter {
    static constexpr const char* name = "postgres";
    postgres::Database db{postgres::Options{fresh_postgres_database()}};
    postgres::AllocationsView allocations_view{db};
    postgres::Outbox stored_outbox{db};
    postgres::UnitOfWorkFactory factory() { return postgres::UnitOfWorkFactory(db); }
    postgres::AllocationsView& view() { return allocations_view; }
    postgres::Outbox& outbox() { return stored_outbox; }
};
#endif

using Adapters = std::tuple<MemoryAdapter
#ifdef ALLOCATION_CONTRACT_WITH_SQLITE
                            , SqliteFileAdapter, SqliteMemoryAdapter
#endif
#ifdef ALLOCATION_CONTRACT_WITH_POSTGRES
                            , PostgresAdapter
#endif
#ifdef ALLOCATION_CONTRACT_WITH_CSV
                            , CsvAdapter
#endif
                            >;

}  // namespace allocation::contract
