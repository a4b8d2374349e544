// The connections of one PostgreSQL database (allocation::detail::ConnectionPool): how to open one, how to tell one
// that broke, and the Lease that units of work, views and the outbox hold.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include <pqxx/pqxx>

#include "allocation/adapters/postgres/connection.hpp"
#include "allocation/adapters/postgres/errors.hpp"
#include "allocation/detail/connection_pool.hpp"
#include "allocation/domain/errors.hpp"

namespace allocation::postgres::detail {

/// `fn()`, which opens a connection to the database `where`: a failure is a StorageError saying so.
template <typename Fn>
decltype(auto) connecting(std::string_view where, Fn&& fn) {
    try {
        return fn();
    } catch (const pqxx::failure& e) {
        throw StorageError(describe(where, "cannot connect", e.what()));
    }
}

/// How the pool opens a connection (its statements prepared) and tells one that broke: marked broken by whoever
/// saw it fail, closed, or (while idle) ended by the server. A leased connection gets its plans refreshed when due
/// (Connection::refresh_plans).
struct PoolPolicy {
    using Connection = detail::Connection;

    std::string connection_string;
    std::string where;  // the database as messages name it: without its password

    std::unique_ptr<Connection> open() const {
        return connecting(where, [&] { return std::make_unique<Connection>(connection_string); });
    }
    static bool keep(const Connection& connection) noexcept { return !connection.broken && connection.db.is_open(); }
    static bool still_open(const Connection& connection) noexcept { return !connection.closed_while_idle(); }
    static void leased(Connection& connection) noexcept {
        connection.refresh_plans(std::chrono::steady_clock::now());
    }
    static bool shared() noexcept { return false; }

    /// Opens a connection outside the pool, with no statement prepared (for the migrations, which create the
    /// tables the statements name).
    pqxx::connection open_bare() const {
        return connecting(where, [&] { return pqxx::connection(connection_string); });
    }
};

using ConnectionPool = allocation::detail::ConnectionPool<PoolPolicy>;

/// Exclusive use of one connection until destroyed.
class Lease {
public:
    explicit Lease(ConnectionPool::Lease lease) noexcept : lease_(std::move(lease)) {}

    Connection& connection() const noexcept { return lease_.connection(); }
    pqxx::connection& db() const noexcept { return lease_.connection().db; }
    /// Marks the connection unusable: it is closed when the lease ends, and the next caller gets a new one.
    void broken() const noexcept { lease_.connection().broken = true; }

    /// Runs `fn`, translating libpqxx's exceptions (see detail::translated) and dropping a broken connection.
    template <typename Fn>
    decltype(auto) guarded(std::string_view where, std::string_view doing, Fn&& fn) const {
        return translated(where, doing, [this] { broken(); }, std::forward<Fn>(fn));
    }

private:
    ConnectionPool::Lease lease_;
};

}  // namespace allocation::postgres::detail
