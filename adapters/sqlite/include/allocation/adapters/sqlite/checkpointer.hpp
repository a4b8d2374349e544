// Copies SQLite's write-ahead log back into the database file on a thread of its own, so that commits never
// wait for that copy and its fsync.
#pragma once

#include <atomic>
#include <cstdint>
#include <stop_token>
#include <thread>

#include <SQLiteCpp/Database.h>
#include <sqlite3.h>

#include "allocation/adapters/sqlite/options.hpp"
#include "allocation/service_layer/background.hpp"

namespace allocation::sqlite::detail {

/// With `Checkpoint::background`, every connection's commit hook tells the Checkpointer how long the log is;
/// once it holds `request_pages` pages, the Checkpointer's thread runs a PASSIVE checkpoint on a connection of
/// its own, which copies what no reader still needs and never blocks a writer or a reader. If the log still
/// grows to `backstop_pages` (the thread cannot keep up), the committing connection checkpoints itself, as
/// SQLite's automatic checkpoint would.
class Checkpointer {
public:
    static constexpr int request_pages = 256;
    static constexpr int backstop_pages = 10000;

    explicit Checkpointer(const Options& options)
        : db_(options.path, SQLite::OPEN_READWRITE | SQLite::OPEN_NOMUTEX) {
        db_.exec(options.synchronous == Synchronous::full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL");
        thread_ = std::jthread([this](std::stop_token stop) { run(stop); });
    }
    Checkpointer(const Checkpointer&) = delete;
    Checkpointer& operator=(const Checkpointer&) = delete;
    ~Checkpointer() = default;  // thread_, the last member, stops and joins first

    /// Installs the commit hook on a connection; the Checkpointer must outlive it.
    void watch(sqlite3* connection) noexcept { sqlite3_wal_hook(connection, &on_commit, this); }

    /// Checkpoints the background thread has completed (each a PASSIVE one, complete or not).
    std::uint64_t completed() const noexcept { return completed_.load(std::memory_order_relaxed); }

private:
    static int on_commit(void* self, sqlite3* connection, const char* schema, int pages) {
        if (pages >= backstop_pages) {
            sqlite3_wal_checkpoint_v2(connection, schema, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
        } else if (pages >= request_pages) {
            static_cast<Checkpointer*>(self)->request();
        }
        return SQLITE_OK;
    }

    // Called on every commit past request_pages: wakes the thread (which takes a lock) only when no checkpoint is
    // asked for yet.
    void request() noexcept {
        if (pending_.exchange(true, std::memory_order_acq_rel)) return;
        wakeup_.wake();
    }

    void run(std::stop_token stop) {
        while (wakeup_.wait(stop)) {
            pending_.store(false, std::memory_order_release);
            // SQLITE_BUSY (another checkpoint is running) and errors leave the log for the next request or
            // the backstop; nothing a checkpoint does can lose a committed transaction.
            sqlite3_wal_checkpoint_v2(db_.getHandle(), nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
            completed_.fetch_add(1, std::memory_order_relaxed);
        }
    }

    SQLite::Database db_;
    std::atomic<bool> pending_{false};
    std::atomic<std::uint64_t> completed_{0};
    Wakeup wakeup_;
    std::jthread thread_;  // last: it uses everything above, and is stopped and joined before it goes
};

}  // namespace allocation::sqlite::detail
