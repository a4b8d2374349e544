// How to open the SQLite database: its path, how hard commits try to survive a power cut, how long to wait.
#pragma once

#include <chrono>
#include <string>

namespace allocation::sqlite {

/// How hard a commit tries to survive a power cut. In WAL mode, `normal` never corrupts the file but may
/// lose the last transactions on power loss; `full` syncs the log on every commit.
enum class Synchronous { normal, full };

/// Who copies the write-ahead log back into the database file. `automatic` is SQLite's own: the commit that
/// takes the log past 1,000 pages does it, and waits for the copy and its fsync. `background`: a thread of the
/// Database does it once the log holds 256 pages, so commits do not wait (the committer still steps in if the
/// log reaches 10,000 pages). Either way a checkpoint never loses a committed transaction. `background` pays
/// with `Synchronous::normal`; with `full`, where every commit syncs anyway, the checkpointer's syncs beside
/// them slow them down (bench/bench_sqlite: rows NORMAL/bg and FULL/bg).
enum class Checkpoint { automatic, background };

struct Options {
    /// A file name, or ":memory:" for a private database that lives as long as its Database object.
    std::string path = "allocation.db";
    Synchronous synchronous = Synchronous::normal;
    /// How long a connection waits for another one's write lock before giving up with StorageError.
    std::chrono::milliseconds busy_timeout{5000};
    /// Ignored for ":memory:", which has no log.
    Checkpoint checkpoint = Checkpoint::automatic;
};

}  // namespace allocation::sqlite
