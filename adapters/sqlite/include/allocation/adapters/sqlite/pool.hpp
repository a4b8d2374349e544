// The connections of one SQLite database (allocation::detail::ConnectionPool): how to open one, and the Lease that
// units of work, views and the outbox hold.
#pragma once

#include <memory>
#include <utility>

#include <SQLiteCpp/Exception.h>

#include "allocation/adapters/sqlite/checkpointer.hpp"
#include "allocation/adapters/sqlite/connection.hpp"
#include "allocation/adapters/sqlite/errors.hpp"
#include "allocation/adapters/sqlite/options.hpp"
#include "allocation/adapters/sqlite/statements.hpp"
#include "allocation/detail/connection_pool.hpp"
#include "allocation/domain/errors.hpp"

namespace allocation::sqlite::detail {

/// Opens the database's first connection, creating the file if need be; configured once it has its schema.
inline std::unique_ptr<Connection> open_first(const Options& options) {
    try {
        return std::make_unique<Connection>(options, true);
    } catch (const SQLite::Exception& e) {
        throw StorageError(describe(options.path, "cannot open", e.what()));
    }
}

/// How the pool opens a connection (to a database that already has its schema) and configures it. A connection
/// stays usable as long as the database does: SQLite reports its failures per statement.
///
/// ":memory:" is shared: every connection to ":memory:" is a database of its own, so the pool holds exactly one
/// connection and units of work on several threads take turns on it.
struct PoolPolicy {
    using Connection = detail::Connection;

    const Options* options;
    Checkpointer* checkpointer;

    std::unique_ptr<Connection> open() const {
        try {
            auto connection = std::make_unique<Connection>(*options, false);
            connection->configure(*options, checkpointer);
            return connection;
        } catch (const SQLite::Exception& e) {
            throw StorageError(describe(options->path, "cannot open", e.what()));
        }
    }
    static bool keep(const Connection&) noexcept { return true; }
    static bool still_open(const Connection&) noexcept { return true; }
    static void leased(Connection&) noexcept {}
    bool shared() const noexcept { return options->path == ":memory:"; }
};

using ConnectionPool = allocation::detail::ConnectionPool<PoolPolicy>;

/// Exclusive use of one connection until destroyed.
class Lease {
public:
    explicit Lease(ConnectionPool::Lease lease) noexcept : lease_(std::move(lease)) {}

    Connection& connection() const noexcept { return lease_.connection(); }
    Statements& statements() const noexcept { return *lease_.connection().statements; }

private:
    ConnectionPool::Lease lease_;
};

}  // namespace allocation::sqlite::detail
