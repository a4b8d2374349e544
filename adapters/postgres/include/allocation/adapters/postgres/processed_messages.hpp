// PostgreSQL processed-message ids: a table written in the transaction of each message's effect.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <pqxx/pqxx>

#include "allocation/adapters/postgres/pool.hpp"
#include "allocation/adapters/postgres/statements.hpp"
#include "allocation/domain/errors.hpp"
#include "allocation/ports/processed_messages.hpp"

namespace allocation::postgres {

/// One unit of work's ProcessedMessages: the stored ids, read on its connection, and those it recorded since its
/// last commit, which its commit writes (UnitOfWork::commit) in the transaction of the message's effect.
class ProcessedMessages {
public:
    ProcessedMessages(detail::Lease& lease, const std::string& where) noexcept : lease_(&lease), where_(&where) {}

    /// Throws StorageError when the database cannot answer.
    bool seen(std::string_view id) const {
        if (std::find(pending_.begin(), pending_.end(), id) != pending_.end()) return true;
        return lease_->in_transaction(*where_, "cannot read the processed messages", [&](pqxx::transaction_base& tx) {
            return !detail::run(tx, detail::sql::select_processed, std::string(id)).empty();
        });
    }
    void record(std::string_view id) { pending_.emplace_back(id); }
    /// At once, outside the unit of work's commit: the ids committed before `recorded_before` are forgotten. In a
    /// unit of work that has read already, and so holds a transaction, it takes effect with that transaction.
    std::size_t purge(std::chrono::system_clock::time_point recorded_before) {
        const std::int64_t before = std::chrono::duration_cast<std::chrono::microseconds>(
                                        recorded_before.time_since_epoch()).count();
        auto purge_in = [&](pqxx::transaction_base& tx) {
            return static_cast<std::size_t>(detail::run(tx, detail::sql::purge_processed, before).affected_rows());
        };
        const std::string_view doing = "cannot purge the processed messages";
        if (lease_->transaction_open()) return lease_->in_transaction(*where_, doing, purge_in);
        return lease_->guarded(*where_, doing, [&] {
            pqxx::nontransaction tx(lease_->db());  // one statement: it commits by itself
            return purge_in(tx);
        });
    }

    bool empty() const noexcept { return pending_.empty(); }
    /// The ids recorded since the last commit, which the commit stores (detail::PendingRows). An id another unit of
    /// work committed since this one looked (or is committing: the insert waits for it) is a lost race.
    const std::vector<std::string>& pending() const noexcept { return pending_; }
    void clear() noexcept { pending_.clear(); }
    /// How many ids were recorded since the last commit; forget_after(n) forgets those after the first n.
    std::size_t recorded() const noexcept { return pending_.size(); }
    void forget_after(std::size_t count) noexcept {
        pending_.erase(pending_.begin() + static_cast<std::ptrdiff_t>(count), pending_.end());
    }

private:
    detail::Lease* lease_;
    const std::string* where_;
    std::vector<std::string> pending_;
};

static_assert(ports::ProcessedMessages<ProcessedMessages>);

}  // namespace allocation::postgres
