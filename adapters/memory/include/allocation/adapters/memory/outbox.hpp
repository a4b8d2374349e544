// In-memory Outbox: the rows its units of work commit, kept until they are delivered.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "allocation/adapters/memory/string_map.hpp"
#include "allocation/domain/model.hpp"
#include "allocation/outbox.hpp"
#include "allocation/ports/outbox.hpp"

namespace allocation::memory {

/// Rows are appended by the store's units of work on commit and forgotten once delivered; each product's next
/// position is remembered apart from them, so an id is never made twice. Every member takes the outbox's own
/// lock, so relays on other threads never wait for a unit of work to end.
class Outbox {
public:
    std::vector<ports::OutboxMessage> undelivered(std::size_t limit) const {
        std::lock_guard lock(mutex_);
        std::vector<ports::OutboxMessage> result;
        for (auto it = rows_.begin(); it != rows_.end() && result.size() < limit; ++it) {
            result.push_back(it->second.message);
        }
        return result;
    }

    std::vector<ports::OutboxMessage> claim(std::string_view owner, ports::OutboxTime now,
                                            ports::OutboxTime lease_until, std::size_t limit) {
        std::lock_guard lock(mutex_);
        std::vector<ports::OutboxMessage> claimed;
        for (auto it = rows_.begin(); it != rows_.end() && claimed.size() < limit; ++it) {
            Row& row = it->second;
            if (row.message.next_attempt_at > now || (!row.owner.empty() && row.lease_until > now)) continue;
            row.owner = std::string(owner);
            row.lease_until = lease_until;
            claimed.push_back(row.message);
        }
        return claimed;
    }

    /// Forgets the rows at once: delivered rows do not accumulate.
    void mark_delivered(std::span<const std::string> ids, ports::OutboxTime /*now*/) {
        std::lock_guard lock(mutex_);
        for (const std::string& id : ids) {
            auto seq = sequence_of_.find(id);
            if (seq == sequence_of_.end()) continue;
            rows_.erase(seq->second);
            sequence_of_.erase(seq);
        }
    }

    /// Marks are never held: nothing to write.
    void flush() noexcept {}

    bool record_failure(std::string_view id, std::string_view owner, ports::OutboxTime next_attempt_at,
                        std::string_view error) {
        std::lock_guard lock(mutex_);
        Row* row = free_or_leased_to(id, owner);
        if (row == nullptr) return false;
        ++row->message.attempts;
        row->message.last_error = std::string(error);
        row->message.next_attempt_at = next_attempt_at;
        row->owner.clear();
        return true;
    }

    void release(std::string_view id, std::string_view owner) {
        std::lock_guard lock(mutex_);
        if (Row* row = leased_to(id, owner)) row->owner.clear();
    }

    ports::OutboxBacklog backlog() const {
        std::lock_guard lock(mutex_);
        if (rows_.empty()) return {};
        return {rows_.size(), rows_.begin()->second.message.created_at};
    }

    /// A unit of work's commit (this adapter's, or another in-process one's, under its own lock): stores the rows
    /// of the outbound events its products raised since their last commit, product by product, and appends them to
    /// `committed` (what the unit of work hands over from collect_outbox()). Call it before the products are marked
    /// committed (allocation::mark_committed), which forgets their events.
    void append(std::span<Product* const> products, ports::OutboxTime now, std::vector<ports::OutboxMessage>& committed) {
        const std::size_t first = committed.size();
        std::lock_guard lock(mutex_);
        for (const Product* product : products) {
            if (!raises_outbound(*product)) continue;
            auto next = next_position_.find(product->sku());
            const bool same_version = next != next_position_.end() && next->second.version == product->version_number();
            store_outbound(*product, product->version_number(), same_version ? next->second.position : 0, now,
                           [&](ports::OutboxMessage message) { committed.push_back(std::move(message)); });
        }
        for (std::size_t i = first; i < committed.size(); ++i) {
            const ports::OutboxMessage& message = committed[i];
            next_position_.insert_or_assign(message.sku, NextPosition{message.version, message.position + 1});
            sequence_of_.try_emplace(message.id, next_sequence_);
            rows_.try_emplace(next_sequence_++, Row{message, {}, {}});
        }
    }

    /// Delivered rows are forgotten at once (each product's next position is kept apart from them): none to purge.
    std::size_t purge_delivered(ports::OutboxTime /*delivered_before*/) noexcept { return 0; }

private:
    struct Row {
        ports::OutboxMessage message;
        std::string owner;  // empty: not leased
        ports::OutboxTime lease_until{};
    };
    struct NextPosition {
        std::int64_t version = 0;
        std::int64_t position = 0;
    };

    Row* leased_to(std::string_view id, std::string_view owner) {
        auto seq = sequence_of_.find(id);
        if (seq == sequence_of_.end()) return nullptr;
        Row& row = rows_.at(seq->second);
        return row.owner == owner ? &row : nullptr;
    }

    // The row of `id` if `owner` holds its lease or nobody does (its committer is delivering it).
    Row* free_or_leased_to(std::string_view id, std::string_view owner) {
        auto seq = sequence_of_.find(id);
        if (seq == sequence_of_.end()) return nullptr;
        Row& row = rows_.at(seq->second);
        return row.owner.empty() || row.owner == owner ? &row : nullptr;
    }

    mutable std::mutex mutex_;
    std::map<std::uint64_t, Row> rows_;                 // undelivered rows by commit order
    detail::StringMap<std::uint64_t> sequence_of_;      // id -> key in rows_
    detail::StringMap<NextPosition> next_position_;     // sku -> the next row's version and position
    std::uint64_t next_sequence_ = 0;
};

static_assert(ports::diagnose_outbox<Outbox>());

}  // namespace allocation::memory
