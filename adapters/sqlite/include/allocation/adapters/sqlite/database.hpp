// The SQLite database: opening, validating and migrating the file, and the connections units of work use.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include <SQLiteCpp/Exception.h>
#include <sqlite3.h>

#include "allocation/adapters/sqlite/checkpointer.hpp"
#include "allocation/adapters/sqlite/errors.hpp"
#include "allocation/adapters/sqlite/migrations.hpp"
#include "allocation/adapters/sqlite/options.hpp"
#include "allocation/adapters/sqlite/pool.hpp"
#include "allocation/adapters/sqlite/write_health.hpp"
#include "allocation/detail/stored_view.hpp"
#include "allocation/domain/errors.hpp"
#include "allocation/outbox.hpp"

namespace allocation::sqlite {

/// The allocation database: opening it creates the file if needed, checks it, and brings its schema up to date
/// (migrations run in order inside one transaction; the version lives in `PRAGMA user_version`).
///
/// A file that cannot be opened for writing, is not an SQLite database, has a schema newer than this library
/// knows, or holds data that the next schema cannot represent is refused with a StorageError naming the path and
/// the reason, and is left exactly as it was; so is every file when the SQLite library is older than 3.35.5.
/// The Database must outlive every factory, unit of work and view made from it. It is not copyable.
class Database {
public:
    explicit Database(Options options) : options_(std::move(options)) {
        if (sqlite3_libversion_number() < oldest_sqlite) {
            throw StorageError(detail::describe(options_.path, "cannot open",
                                                std::string("this program uses SQLite ") + sqlite3_libversion() +
                                                    "; the allocation schema needs SQLite 3.35.5 or newer"));
        }
        auto first = detail::open_first(options_);
        detail::migrate(first->db, options_.path);
        try {
            if (options_.checkpoint == Checkpoint::background && options_.path != ":memory:") {
                checkpointer_.emplace(options_);
            }
            first->configure(options_, checkpointer());
        } catch (const SQLite::Exception& e) {
            throw StorageError(detail::describe(options_.path, "cannot configure the connection", e.what()));
        }
        pool_.emplace(detail::PoolPolicy{&options_, checkpointer()}, std::move(first));
    }
    Database(const Database&) = delete;
    Database& operator=(const Database&) = delete;

    const Options& options() const noexcept { return options_; }

    /// Asks the database one question (its schema version) on a connection nobody else is using, for readiness
    /// probes: throws StorageError when the file does not answer, was deleted or replaced (from then on every
    /// unit of work is refused too), or another program gave it a newer schema. While the last write failed (a
    /// full disk, a read-only file), it also tries a write of its own, which changes nothing, and throws until one
    /// succeeds.
    void check() {
        auto lease = this->lease();
        detail::Connection& connection = lease.connection();
        health_.confirm(connection.db.getHandle());
        detail::refuse_if_newer(options_.path, detail::user_version(connection.db, options_.path));
        if (health_.failure()) try_write(connection);
    }

    /// Checkpoints the background thread has run so far (always 0 without `Checkpoint::background`).
    std::uint64_t background_checkpoints() const noexcept {
        return checkpointer_ ? checkpointer_->completed() : 0;
    }

private:
    friend class UnitOfWork;
    template <typename, auto, auto, auto>
    friend class allocation::detail::StoredAllocationsView;  // the AllocationsView, through one_statement
    friend class Outbox;

    detail::Lease lease() {
        health_.refuse_if_moved();
        return detail::Lease(pool_->acquire());
    }

    /// Writes the schema version over itself in a write transaction of its own: a write of a page, nothing changed.
    void try_write(detail::Connection& connection) {
        std::lock_guard writer(writer_);
        try {
            connection.db.exec("BEGIN IMMEDIATE");
            const int version = detail::user_version(connection.db, options_.path);
            connection.db.exec("PRAGMA user_version = " + std::to_string(version));
            connection.db.exec("COMMIT");
            health_.record_success();
        } catch (const SQLite::Exception& e) {
            if (connection.in_transaction()) connection.db.tryExec("ROLLBACK");
            health_.record_failure(e.getErrorCode(), e.what());
            throw StorageError(detail::describe(options_.path, "writes are failing", e.what()));
        }
    }
    detail::Checkpointer* checkpointer() noexcept { return checkpointer_ ? &*checkpointer_ : nullptr; }

    /// Runs `fn(statements)` on a connection nobody else is using, each statement its own implicit transaction
    /// (for the view's single statements), translating SQLite's failures into StorageError saying what it was
    /// `doing`.
    template <typename Fn>
    auto one_statement(std::string_view doing, Fn&& fn) -> std::invoke_result_t<Fn&, detail::Statements&> {
        auto lease = this->lease();
        try {
            return fn(lease.statements());
        } catch (const SQLite::Exception& e) {
            throw StorageError(detail::describe(options_.path, doing, e.what()));
        }
    }

    Options options_;
    detail::WriteHealth health_{options_.path};
    std::optional<detail::Checkpointer> checkpointer_;  // outlives the connections that report to it
    std::optional<detail::ConnectionPool> pool_;
    // Held by a unit of work from BEGIN IMMEDIATE to COMMIT. Threads of one process take turns on it instead of
    // in SQLite's busy handler, which sleeps (1 ms, then 2, 5, 10 ...) however soon the lock is free again.
    // Other processes still meet in the busy handler.
    std::mutex writer_;
    // Delivery marks (sqlite::Outbox::mark_delivered) waiting for the next write transaction, a commit's included,
    // so that delivering costs the single writer no turn of its own.
    allocation::detail::PendingMarks marks_;
};

}  // namespace allocation::sqlite
