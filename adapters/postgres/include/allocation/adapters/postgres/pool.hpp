// The connections of one database: each caller gets one nobody else is using, for as long as it holds a Lease.
#pragma once

#include <algorithm>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <pqxx/pqxx>

#include "allocation/adapters/postgres/connection.hpp"
#include "allocation/adapters/postgres/errors.hpp"
#include "allocation/domain/errors.hpp"

namespace allocation::postgres::detail {

class ConnectionPool;

/// `fn()`, which opens a connection to the database `where`: a failure is a StorageError saying so.
template <typename Fn>
decltype(auto) connecting(std::string_view where, Fn&& fn) {
    try {
        return fn();
    } catch (const pqxx::failure& e) {
        throw StorageError(describe(where, "cannot connect", e.what()));
    }
}

/// Exclusive use of one connection until destroyed.
class Lease {
public:
    Lease(ConnectionPool& pool, Connection& connection) noexcept : pool_(&pool), connection_(&connection) {}
    Lease(Lease&& other) noexcept : pool_(std::exchange(other.pool_, nullptr)), connection_(other.connection_) {}
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    inline ~Lease();

    Connection& connection() const noexcept { return *connection_; }
    pqxx::connection& db() const noexcept { return connection_->db; }
    /// Marks the connection unusable: it is closed when the lease ends, and the next caller gets a new one.
    void broken() const noexcept { connection_->broken = true; }

    /// Runs `fn`, translating libpqxx's exceptions (see detail::translated) and dropping a broken connection.
    template <typename Fn>
    decltype(auto) guarded(std::string_view where, std::string_view doing, Fn&& fn) const {
        return translated(where, doing, [this] { broken(); }, std::forward<Fn>(fn));
    }

private:
    ConnectionPool* pool_;
    Connection* connection_;
};

/// Hands each caller a connection nobody else is using, preferring the one its thread used last, so that a thread
/// keeps its connection (and its prepared statements) from one unit of work to the next. A connection found
/// broken is closed and never handed out again; the next caller opens a new one, so the pool recovers by itself
/// once the database is back.
class ConnectionPool {
public:
    ConnectionPool(std::string connection_string, std::string where)
        : connection_string_(std::move(connection_string)), where_(std::move(where)) {}

    /// A connection for the calling thread, its plans refreshed when due (Connection::refresh_plans).
    Lease acquire() {
        Lease lease = reserve();
        lease.connection().refresh_plans(std::chrono::steady_clock::now());
        return lease;
    }

    void release(Connection& connection) noexcept {
        std::unique_ptr<Connection> dead;
        std::lock_guard lock(mutex_);
        connection.in_use = false;
        if (!connection.broken && connection.db.is_open()) return;
        auto it = std::find_if(connections_.begin(), connections_.end(),
                               [&](const auto& c) { return c.get() == &connection; });
        if (it == connections_.end()) return;
        dead = std::move(*it);
        connections_.erase(it);
    }

    /// Opens a connection and prepares its statements.
    std::unique_ptr<Connection> open() const {
        return connecting(where_, [&] { return std::make_unique<Connection>(connection_string_); });
    }

    /// Opens a connection outside the pool, with no statement prepared (for the migrations, which create the
    /// tables the statements name).
    pqxx::connection open_bare() const {
        return connecting(where_, [&] { return pqxx::connection(connection_string_); });
    }

    const std::string& where() const noexcept { return where_; }

    std::size_t size() {
        std::lock_guard lock(mutex_);
        return connections_.size();
    }

private:
    // A connection nobody else is using: the thread's last, another idle one, or a new one.
    Lease reserve() {
        const auto me = std::this_thread::get_id();
        std::vector<std::unique_ptr<Connection>> dead;  // closed outside the lock
        {
            std::lock_guard lock(mutex_);
            Connection* any_free = nullptr;
            for (auto it = connections_.begin(); it != connections_.end();) {
                Connection& connection = **it;
                if (!connection.in_use && connection.closed_while_idle()) {
                    dead.push_back(std::move(*it));
                    it = connections_.erase(it);
                    continue;
                }
                ++it;
                if (connection.in_use) continue;
                if (connection.last_user == me) return take(connection, me);
                if (any_free == nullptr) any_free = &connection;
            }
            if (any_free != nullptr) return take(*any_free, me);
        }
        dead.clear();
        auto fresh = open();  // opening takes a round trip or more: outside the lock
        std::lock_guard lock(mutex_);
        connections_.push_back(std::move(fresh));
        return take(*connections_.back(), me);
    }

    Lease take(Connection& connection, std::thread::id me) {
        connection.in_use = true;
        connection.last_user = me;
        return Lease(*this, connection);
    }

    const std::string connection_string_;
    const std::string where_;
    std::mutex mutex_;
    std::vector<std::unique_ptr<Connection>> connections_;
};

inline Lease::~Lease() {
    if (pool_ != nullptr) pool_->release(*connection_);
}

}  // namespace allocation::postgres::detail
