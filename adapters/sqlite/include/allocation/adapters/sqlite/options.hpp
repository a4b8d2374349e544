// How to open the SQLite database: its path, how hard commits try to survive a power cut, how long to wait.
#pragma once

#include <chrono>
#include <string>

namespace allocation::sqlite {

/// How hard a commit tries to survive a power cut. In WAL mode, `normal` never corrupts the file but may
/// lose the last transactions on power loss; `full` syncs the log on every commit.
enum class Synchronous { normal, full };

struct Options {
    /// A file name, or ":memory:" for a private database that lives as long as its Database object.
    std::string path = "allocation.db";
    Synchronous synchronous = Synchronous::normal;
    /// How long a connection waits for another one's write lock before giving up with StorageError.
    std::chrono::milliseconds busy_timeout{5000};
};

}  // namespace allocation::sqlite
