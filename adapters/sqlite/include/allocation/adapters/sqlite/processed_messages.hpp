// SQLite processed-message ids: a table written in the transaction of each message's effect.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <SQLiteCpp/Exception.h>

#include "allocation/adapters/sqlite/database.hpp"
#include "allocation/adapters/sqlite/errors.hpp"
#include "allocation/adapters/sqlite/statements.hpp"
#include "allocation/domain/errors.hpp"
#include "allocation/ports/processed_messages.hpp"

namespace allocation::sqlite {

namespace detail {

inline bool processed_stored(Statements& st, const std::string& id) {
    Use query(st.select_processed);
    bind_text(st.select_processed, 1, id);
    return query->executeStep();
}

/// Inside the commit's transaction. An id another unit of work committed since this one looked is a lost race.
inline void processed_insert(Statements& st, const std::string& id, std::int64_t at) {
    Use query(st.insert_processed);
    bind_text(st.insert_processed, 1, id);
    query->bind(2, static_cast<int64_t>(at));
    if (query->exec() == 0) throw ConcurrencyError("message " + id + " was applied meanwhile by another unit of work");
}

}  // namespace detail

/// One unit of work's ProcessedMessages: the stored ids, read on its connection, and those it recorded since its
/// last commit, which its commit writes (UnitOfWork::commit) in the transaction of the message's effect.
class ProcessedMessages {
public:
    ProcessedMessages(detail::Lease& lease, const std::string& path, std::mutex& writer) noexcept
        : lease_(&lease), path_(&path), writer_(&writer) {}

    /// Throws StorageError when the database cannot answer.
    bool seen(std::string_view id) const {
        if (std::find(pending_.begin(), pending_.end(), id) != pending_.end()) return true;
        try {
            return detail::processed_stored(lease_->statements(), std::string(id));
        } catch (const SQLite::Exception& e) {
            throw StorageError(detail::describe(*path_, "cannot read the processed messages", e.what()));
        }
    }
    void record(std::string_view id) { pending_.emplace_back(id); }

    /// One DELETE on the unit of work's connection, outside its commit: call it before the unit of work writes
    /// anything, or after. Throws StorageError when the database refuses.
    std::size_t purge(std::chrono::system_clock::time_point recorded_before) {
        auto& st = lease_->statements();
        try {
            std::lock_guard writer(*writer_);
            detail::Use query(st.purge_processed);
            query->bind(1, static_cast<int64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                                    recorded_before.time_since_epoch()).count()));
            return static_cast<std::size_t>(query->exec());
        } catch (const SQLite::Exception& e) {
            throw StorageError(detail::describe(*path_, "cannot purge the processed messages", e.what()));
        }
    }

    bool empty() const noexcept { return pending_.empty(); }
    /// Writes the recorded ids; inside the commit's transaction only.
    void write(detail::Statements& st) const {
        const auto now = std::chrono::duration_cast<std::chrono::microseconds>(
                             std::chrono::system_clock::now().time_since_epoch()).count();
        for (const auto& id : pending_) detail::processed_insert(st, id, now);
    }
    void clear() noexcept { pending_.clear(); }
    /// How many ids were recorded since the last commit; forget_after(n) forgets those after the first n.
    std::size_t recorded() const noexcept { return pending_.size(); }
    void forget_after(std::size_t count) noexcept {
        pending_.erase(pending_.begin() + static_cast<std::ptrdiff_t>(count), pending_.end());
    }

private:
    detail::Lease* lease_;
    const std::string* path_;
    std::mutex* writer_;  // the Database's: writes of this process take turns on it
    std::vector<std::string> pending_;
};

static_assert(ports::ProcessedMessages<ProcessedMessages>);

}  // namespace allocation::sqlite
