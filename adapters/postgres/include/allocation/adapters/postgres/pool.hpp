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

/// Exclusive use of one connection until destroyed, and the transaction its holder has open on it, if any.
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

    /// Runs `fn(tx)` in the lease's transaction (READ COMMITTED, the connection's default), beginning it if none
    /// is open, as guarded() does. Whatever fails ends the transaction, and the row locks it held go with it.
    template <typename Fn>
    decltype(auto) in_transaction(std::string_view where, std::string_view doing, Fn&& fn) {
        return guarded(where, doing, [&]() -> decltype(auto) {
            try {
                return fn(transaction());
            } catch (...) {
                rollback();
                throw;
            }
        });
    }

    /// Whether a transaction is open.
    bool transaction_open() const noexcept { return tx_ != nullptr; }

    /// Commits the open transaction, if any (libpqxx's exceptions as they come: call it inside guarded()).
    void commit() {
        if (!tx_) return;
        auto tx = std::move(tx_);
        tx->commit();
    }

    /// Rolls the open transaction back, if any; never throws. On a connection the server closed, nothing is sent:
    /// the transaction ended with the connection, and libpqxx 6.4 leaks the result of a ROLLBACK that fails there.
    void rollback() noexcept {
        if (tx_ && connection().closed_while_idle()) connection().close();
        tx_.reset();
    }

private:
    pqxx::transaction_base& transaction() {
        // A connection the server closed since its last statement (while idle, or idle in this transaction: the
        // server sends nothing then either) fails here, before anything is sent: libpqxx 6.4 leaks the result of a
        // statement that fails on a closed connection (a BEGIN, the first run of a prepared statement).
        if (connection().closed_while_idle()) throw pqxx::broken_connection("the server closed the connection");
        if (!tx_) tx_ = std::make_unique<pqxx::work>(db());
        return *tx_;
    }

    ConnectionPool::Lease lease_;
    std::unique_ptr<pqxx::work> tx_;  // destroyed (rolled back) before the connection goes back to the pool
};

}  // namespace allocation::postgres::detail
