// The adapters the contract suite runs against: each gives a unit-of-work factory, a read model and an outbox.
#pragma once

#include <tuple>

#include "allocation/adapters/memory/memory.hpp"
#ifdef ALLOCATION_CONTRACT_WITH_SQLITE
#include <atomic>
#include <filesystem>
#include <string>
#include <unistd.h>

#include "allocation/adapters/sqlite/sqlite.hpp"
#endif

namespace allocation::contract {

struct MemoryAdapter {
    static constexpr const char* name = "memory";
    memory::Store store;
    memory::UnitOfWorkFactory factory() { return memory::UnitOfWorkFactory(store); }
    memory::AllocationsView& view() { return store.allocations(); }
    memory::Outbox& outbox() { return store.outbox(); }
};

#ifdef ALLOCATION_CONTRACT_WITH_SQLITE
/// A fresh directory per adapter instance, removed with it (after the database is closed).
struct TempDirectory {
    TempDirectory() {
        static std::atomic<int> counter{0};
        path = std::filesystem::temp_directory_path() /
               ("allocation-contract-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
        std::filesystem::remove_all(path);
        std::filesystem::create_directories(path);
    }
    TempDirectory(const TempDirectory&) = delete;
    TempDirectory& operator=(const TempDirectory&) = delete;
    ~TempDirectory() {
        std::error_code ignored;
        std::filesystem::remove_all(path, ignored);
    }
    std::filesystem::path path;
};

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

using Adapters = std::tuple<MemoryAdapter, SqliteFileAdapter, SqliteMemoryAdapter>;
#else
using Adapters = std::tuple<MemoryAdapter>;
#endif

}  // namespace allocation::contract
