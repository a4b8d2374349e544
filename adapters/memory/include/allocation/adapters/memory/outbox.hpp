// In-memory Outbox: the rows its units of work commit, kept until they are delivered.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
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

/// Rows are appended by the units of work on commit, in commit order, and forgotten once delivered: a delivered
/// row becomes a spare one, in which a later commit makes its row without allocating its strings again. When
/// every row is delivered (what a commit's delivery at once leaves) only the spare rows are kept, as many as were
/// ever undelivered at once. Each product's next position is remembered apart from them, so an id is never made
/// twice. Every member takes the outbox's own lock, so relays on other threads never wait for a unit of work to end.
class Outbox {
public:
    std::vector<ports::OutboxMessage> undelivered(std::size_t limit) const {
        std::lock_guard lock(mutex_);
        std::vector<ports::OutboxMessage> result;
        for (std::size_t i = head_; i < end_ && result.size() < limit; ++i) {
            if (!rows_[i].delivered) result.push_back(rows_[i].message);
        }
        return result;
    }

    std::vector<ports::OutboxMessage> claim(std::string_view owner, ports::OutboxTime now,
                                            ports::OutboxTime lease_until, std::size_t limit) {
        std::lock_guard lock(mutex_);
        std::vector<ports::OutboxMessage> claimed;
        for (std::size_t i = head_; i < end_ && claimed.size() < limit; ++i) {
            Row& row = rows_[i];
            if (row.delivered || row.message.next_attempt_at > now || (!row.owner.empty() && row.lease_until > now)) {
                continue;
            }
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
            if (Row* row = find(id)) {
                row->delivered = true;
                --live_;
            }
        }
        forget_delivered();
    }

    /// Marks are never held: nothing to write.
    void flush() noexcept {}

    bool record_failure(std::string_view id, std::string_view owner, ports::OutboxTime next_attempt_at,
                        std::string_view error) {
        std::lock_guard lock(mutex_);
        Row* row = find(id);
        if (row == nullptr || !(row->owner.empty() || row->owner == owner)) return false;
        ++row->message.attempts;
        row->message.last_error = std::string(error);
        row->message.next_attempt_at = next_attempt_at;
        row->owner.clear();
        return true;
    }

    void release(std::string_view id, std::string_view owner) {
        std::lock_guard lock(mutex_);
        Row* row = find(id);
        if (row != nullptr && row->owner == owner) row->owner.clear();
    }

    ports::OutboxBacklog backlog() const {
        std::lock_guard lock(mutex_);
        if (live_ == 0) return {};
        return {live_, rows_[head_].message.created_at};  // the first row kept is never a delivered one
    }

    /// A unit of work's commit (this adapter's, or another in-process one's, under its own lock): stores the rows
    /// of the outbound events its products raised since their last commit, product by product, and appends them to
    /// `committed` (what the unit of work hands over from collect_outbox()). Call it before the products are marked
    /// committed (allocation::mark_committed), which forgets their events. All or nothing: when it throws, neither
    /// the outbox nor `committed` changed.
    void append(std::span<Product* const> products, ports::OutboxTime now, std::vector<ports::OutboxMessage>& committed) {
        std::lock_guard lock(mutex_);
        const std::size_t first = committed.size(), kept = end_;
        numbered_.clear();
        try {
            for (const Product* product : products) {
                if (raises_outbound(*product)) store_rows(*product, now);
            }
            for (std::size_t i = kept; i < end_; ++i) committed.push_back(rows_[i].message);
        } catch (...) {
            end_ = kept;
            committed.resize(first);
            throw;
        }
        live_ += end_ - kept;
        for (const auto& [numbering, next] : numbered_) *numbering = next;
    }

    /// Delivered rows are forgotten at once (each product's next position is kept apart from them): none to purge.
    std::size_t purge_delivered(ports::OutboxTime /*delivered_before*/) noexcept { return 0; }

private:
    /// A row as kept, with its lease.
    struct Row {
        ports::OutboxMessage message;
        std::string owner;  // empty: not leased
        ports::OutboxTime lease_until{};
        bool delivered = false;
    };
    /// A product's newest row.
    struct Numbering {
        std::int64_t version = 0;
        std::int64_t next_position = 0;  // at that version
    };

    // Stores the rows of `product`, after its rows of the same version (events raised without a change), else from
    // position 0, and remembers in numbered_ what its numbering becomes once the commit has stored every row.
    // A numbering made here is {0, 0}, which numbers as no numbering does.
    void store_rows(const Product& product, ports::OutboxTime now) {
        Numbering& newest = numbering_.try_emplace(product.sku()).first->second;
        const std::int64_t version = product.version_number();
        const std::int64_t first = newest.version == version ? newest.next_position : 0;
        const std::int64_t stored =
            store_outbound(product, version, first, now, [&]() -> ports::OutboxMessage& { return add_row().message; });
        numbered_.emplace_back(&newest, Numbering{version, first + stored});
    }

    // The undelivered row of `id`, or nullptr. The rows a commit just stored are at the back and those a relay
    // claims (the oldest due) near the front, so the search starts at both ends.
    Row* find(std::string_view id) noexcept {
        auto matches = [&](const Row& row) { return !row.delivered && row.message.id == id; };
        for (std::size_t front = head_, back = end_; front < back; ++front) {
            if (matches(rows_[--back])) return &rows_[back];
            if (front < back && matches(rows_[front])) return &rows_[front];
        }
        return nullptr;
    }

    // A new row after the others: a spare one when there is one, whose strings keep their buffers for the row
    // the caller makes in it.
    Row& add_row() {
        if (end_ == rows_.size()) rows_.emplace_back();
        Row& row = rows_[end_++];
        row.owner.clear();
        row.lease_until = {};
        row.delivered = false;
        return row;
    }

    // Makes the delivered rows at the front spare; all of them when none is left undelivered.
    void forget_delivered() {
        while (head_ < end_ && rows_[head_].delivered) ++head_;
        if (head_ == end_) {
            head_ = end_ = 0;
        } else if (head_ > 1024) {
            const auto begin = rows_.begin();
            std::rotate(begin, begin + static_cast<std::ptrdiff_t>(head_), begin + static_cast<std::ptrdiff_t>(end_));
            end_ -= head_;
            head_ = 0;
        }
    }

    mutable std::mutex mutex_;
    std::vector<Row> rows_;  // commit order: delivered before head_, kept up to end_, spare after
    std::size_t head_ = 0;
    std::size_t end_ = 0;
    std::size_t live_ = 0;                   // undelivered rows
    detail::StringMap<Numbering> numbering_;  // sku -> its newest row's numbering
    std::vector<std::pair<Numbering*, Numbering>> numbered_;  // what append() sets in numbering_ once it succeeds
};

static_assert(ports::diagnose_outbox<Outbox>());

}  // namespace allocation::memory
