// The connections of one database: each caller gets one nobody else is using, for as long as it holds a Lease.
#pragma once

#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include <SQLiteCpp/Exception.h>

#include "allocation/adapters/sqlite/connection.hpp"
#include "allocation/adapters/sqlite/errors.hpp"
#include "allocation/adapters/sqlite/options.hpp"
#include "allocation/adapters/sqlite/statements.hpp"
#include "allocation/domain/errors.hpp"

namespace allocation::sqlite::detail {

class ConnectionPool;

/// Exclusive use of one connection until destroyed.
class Lease {
public:
    Lease(ConnectionPool& pool, Connection& connection, std::unique_lock<std::recursive_mutex> exclusive) noexcept
        : pool_(&pool), connection_(&connection), exclusive_(std::move(exclusive)) {}
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    inline ~Lease();

    Connection& connection() const noexcept { return *connection_; }
    Statements& statements() const noexcept { return *connection_->statements; }

private:
    ConnectionPool* pool_;
    Connection* connection_;
    std::unique_lock<std::recursive_mutex> exclusive_;
};

/// Hands each caller a connection nobody else is using, preferring the one its thread used last, so that a
/// thread keeps its connection (and its prepared statements) from one unit of work to the next.
///
/// ":memory:" is different: every connection to ":memory:" is a database of its own, so the pool holds exactly
/// one connection and a lease holds a (recursive) lock on it: units of work on several threads take turns.
class ConnectionPool {
public:
    ConnectionPool(const Options& options, Checkpointer* checkpointer, std::unique_ptr<Connection> first)
        : options_(options), checkpointer_(checkpointer) {
        connections_.push_back(std::move(first));
    }

    Lease acquire() {
        if (options_.path == ":memory:") {
            std::unique_lock exclusive(memory_mutex_);
            return Lease(*this, *connections_.front(), std::move(exclusive));
        }
        const auto me = std::this_thread::get_id();
        {
            std::lock_guard lock(mutex_);
            Connection* any_free = nullptr;
            for (auto& connection : connections_) {
                if (connection->in_use) continue;
                if (connection->last_user == me) return take(*connection, me);
                if (any_free == nullptr) any_free = connection.get();
            }
            if (any_free != nullptr) return take(*any_free, me);
        }
        // Opening a connection takes a while: do it outside the lock.
        auto fresh = open(options_, checkpointer_);
        std::lock_guard lock(mutex_);
        connections_.push_back(std::move(fresh));
        return take(*connections_.back(), me);
    }

    void release(Connection& connection) noexcept {
        if (options_.path == ":memory:") return;
        std::lock_guard lock(mutex_);
        connection.in_use = false;
    }

    /// Opens the database's first connection, creating the file if need be; configured once it has its schema.
    static std::unique_ptr<Connection> open_first(const Options& options) {
        try {
            return std::make_unique<Connection>(options, true);
        } catch (const SQLite::Exception& e) {
            throw StorageError(describe(options.path, "cannot open", e.what()));
        }
    }

    /// Opens and configures a connection to a database that already has its schema.
    static std::unique_ptr<Connection> open(const Options& options, Checkpointer* checkpointer) {
        try {
            auto connection = std::make_unique<Connection>(options, false);
            connection->configure(options, checkpointer);
            return connection;
        } catch (const SQLite::Exception& e) {
            throw StorageError(describe(options.path, "cannot open", e.what()));
        }
    }

private:
    Lease take(Connection& connection, std::thread::id me) {
        connection.in_use = true;
        connection.last_user = me;
        return Lease(*this, connection, {});
    }

    const Options& options_;
    Checkpointer* checkpointer_;
    std::mutex mutex_;
    std::recursive_mutex memory_mutex_;
    std::vector<std::unique_ptr<Connection>> connections_;
};

inline Lease::~Lease() { pool_->release(*connection_); }

}  // namespace allocation::sqlite::detail
