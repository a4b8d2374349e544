// Whether the database's writes are kept: the file still where it was opened, and the last write a success.
#pragma once

#include <sys/stat.h>

#include <atomic>
#include <cerrno>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include <sqlite3.h>

#include "allocation/adapters/sqlite/errors.hpp"
#include "allocation/domain/errors.hpp"

namespace allocation::sqlite::detail {

/// True when the file `db` opened as "main", or its write-ahead log, is no longer at its path (deleted, renamed,
/// replaced): SQLite's SQLITE_FCNTL_HAS_MOVED for the file, and the log's path for the log, which exists as long
/// as a connection is open. What is written then goes to a file nobody will open again.
inline bool has_moved(sqlite3* db) {
    int moved = 0;
    if (sqlite3_file_control(db, "main", SQLITE_FCNTL_HAS_MOVED, &moved) != SQLITE_OK) return false;  // no file
    if (moved != 0) return true;
    const char* wal = sqlite3_filename_wal(sqlite3_db_filename(db, "main"));
    struct stat status {};
    return wal != nullptr && *wal != '\0' && ::stat(wal, &status) != 0 && errno == ENOENT;
}

/// Whether SQLite's error is the storage's (full, read-only, failing, gone) rather than the statement's or a lock's.
inline bool is_storage_fault(int code) noexcept {
    switch (code & 0xff) {
        case SQLITE_FULL: case SQLITE_IOERR: case SQLITE_READONLY: case SQLITE_CANTOPEN: case SQLITE_CORRUPT:
        case SQLITE_NOTADB: case SQLITE_PERM:
            return true;
        default:
            return false;
    }
}

/// The state of the database's writes, shared by its connections: a file found moved stays so (every later write
/// is refused, since it would be lost), and a write that failed for the storage's sake stays the answer until one
/// succeeds. Thread-safe.
class WriteHealth {
public:
    explicit WriteHealth(std::string path) : path_(std::move(path)) {}

    /// Throws StorageError once the file was found moved.
    void refuse_if_moved() const {
        if (moved_.load(std::memory_order_acquire)) throw StorageError(moved_message());
    }

    /// After a commit, before anyone is told it is kept: throws StorageError, and refuses every later write, when
    /// the file or its log was deleted or replaced since `db` opened it.
    void confirm(sqlite3* db) {
        if (!has_moved(db)) return;
        moved_.store(true, std::memory_order_release);
        throw StorageError(moved_message());
    }

    /// A write ended with SQLite's `code` and `why`: remembered when it is the storage's fault.
    void record_failure(int code, const std::string& why) {
        if (!is_storage_fault(code)) return;
        std::lock_guard lock(mutex_);
        failure_ = why;
        failing_.store(true, std::memory_order_relaxed);
    }

    void record_success() {
        if (!failing_.load(std::memory_order_relaxed)) return;
        std::lock_guard lock(mutex_);
        failure_.reset();
        failing_.store(false, std::memory_order_relaxed);
    }

    /// Why the last write failed, while no write has succeeded since.
    std::optional<std::string> failure() const {
        std::lock_guard lock(mutex_);
        return failure_;
    }

private:
    std::string moved_message() const {
        return describe(path_, "refusing writes",
                        "the database file or its write-ahead log was deleted or replaced while the database was "
                        "open; what is written now would be lost. Restore the file, then restart");
    }

    std::string path_;
    std::atomic<bool> moved_{false};
    mutable std::mutex mutex_;
    std::optional<std::string> failure_;  // guarded by mutex_
    std::atomic<bool> failing_{false};    // failure_ holds one: the successful write's check without the lock
};

}  // namespace allocation::sqlite::detail
