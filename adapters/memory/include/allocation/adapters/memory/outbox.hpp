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

/// Rows are appended by the units of work on commit, in commit order, and forgotten once delivered: when every row
/// is delivered (what a commit's delivery at once leaves) the rows take no memory but their vector's capacity, which
/// the next commit reuses. Each product's next position is remembered apart from them, so an id is never made
/// twice. Every member takes the outbox's own lock, so relays on other threads never wait for a unit of work to end.
class Outbox {
public:
    std::vector<ports::OutboxMessage> undelivered(std::size_t limit) const {
        std::lock_guard lock(mutex_);
        std::vector<ports::OutboxMessage> result;
        for (std::size_t i = head_; i < rows_.size() && result.size() < limit; ++i) {
            if (!rows_[i].delivered) result.push_back(handed_out(rows_[i]));
        }
        return result;
    }

    std::vector<ports::OutboxMessage> claim(std::string_view owner, ports::OutboxTime now,
                                            ports::OutboxTime lease_until, std::size_t limit) {
        std::lock_guard lock(mutex_);
        std::vector<ports::OutboxMessage> claimed;
        for (std::size_t i = head_; i < rows_.size() && claimed.size() < limit; ++i) {
            Row& row = rows_[i];
            if (row.delivered || row.message.next_attempt_at > now || (!row.owner.empty() && row.lease_until > now)) {
                continue;
            }
            row.owner = std::string(owner);
            row.lease_until = lease_until;
            claimed.push_back(handed_out(row));
        }
        return claimed;
    }

    /// Forgets the rows at once: delivered rows do not accumulate.
    void mark_delivered(std::span<const std::string> ids, ports::OutboxTime /*now*/) {
        std::lock_guard lock(mutex_);
        for (const std::string& id : ids) {
            if (Row* row = find(id, true)) {
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
    /// committed (allocation::mark_committed), which forgets their events.
    void append(std::span<Product* const> products, ports::OutboxTime now, std::vector<ports::OutboxMessage>& committed) {
        const std::size_t first = committed.size();
        std::lock_guard lock(mutex_);
        std::vector<ProductRows*> numbering;  // of each row made, for store()
        for (const Product* product : products) {
            if (!raises_outbound(*product)) continue;
            ProductRows& known = products_.try_emplace(product->sku()).first->second;
            const bool same_version = known.version == product->version_number();
            store_outbound(*product, product->version_number(), same_version ? known.next_position : 0, now,
                           [&](ports::OutboxMessage message) {
                               committed.push_back(std::move(message));
                               numbering.push_back(&known);
                           });
        }
        rows_.reserve(rows_.size() + numbering.size());  // so that storing them cannot throw halfway
        for (std::size_t i = 0; i < numbering.size(); ++i) store(committed[first + i], *numbering[i]);
    }

    /// Delivered rows are forgotten at once (each product's next position is kept apart from them): none to purge.
    std::size_t purge_delivered(ports::OutboxTime /*delivered_before*/) noexcept { return 0; }

private:
    /// A row as kept: its message without its id (made again when it is handed out), and its lease.
    struct Row {
        ports::OutboxMessage message;
        std::string owner;  // empty: not leased
        ports::OutboxTime lease_until{};
        bool delivered = false;
    };
    /// A kept row of a product, by its number there.
    struct Kept {
        std::int64_t version = 0;
        std::int64_t position = 0;
        std::uint64_t sequence = 0;  // its place in commit order
    };
    struct ProductRows {
        std::int64_t version = 0;        // of its newest row
        std::int64_t next_position = 0;  // at that version
        std::vector<Kept> kept;          // its undelivered rows
    };

    static ports::OutboxMessage handed_out(const Row& row) {
        ports::OutboxMessage message = row.message;
        message.id = outbox_id(message.sku, message.version, message.position);
        return message;
    }

    // Keeps `message` (without its id), numbered by `product`, its product's entry.
    void store(const ports::OutboxMessage& message, ProductRows& product) {
        product.version = message.version;
        product.next_position = message.position + 1;
        product.kept.push_back({message.version, message.position, first_sequence_ + rows_.size()});
        rows_.push_back(Row{ports::OutboxMessage{{}, message.sku, message.version, message.position, message.event,
                                                 message.created_at, 0, {}, message.next_attempt_at},
                            {}, {}, false});
        ++live_;
    }

    // The undelivered row of `id`, or nullptr. With `forget`, its product no longer keeps it (it is delivered).
    Row* find(std::string_view id, bool forget = false) {
        const auto key = parse_outbox_id(id);
        if (!key) return nullptr;
        auto known = products_.find(key->sku);
        if (known == products_.end()) return nullptr;
        auto& kept = known->second.kept;
        auto it = std::find_if(kept.begin(), kept.end(),
                               [&](const Kept& k) { return k.version == key->version && k.position == key->position; });
        if (it == kept.end()) return nullptr;
        Row& row = rows_[static_cast<std::size_t>(it->sequence - first_sequence_)];
        if (forget) kept.erase(it);
        return &row;
    }

    // Drops the delivered rows at the front; all of them when none is left.
    void forget_delivered() {
        while (head_ < rows_.size() && rows_[head_].delivered) ++head_;
        if (head_ == rows_.size() || head_ > 1024) {
            first_sequence_ += head_;
            rows_.erase(rows_.begin(), rows_.begin() + static_cast<std::ptrdiff_t>(head_));
            head_ = 0;
        }
    }

    mutable std::mutex mutex_;
    std::vector<Row> rows_;                    // commit order; those before head_ are delivered
    std::size_t head_ = 0;
    std::uint64_t first_sequence_ = 0;         // the sequence of rows_[0]
    std::size_t live_ = 0;                     // undelivered rows
    detail::StringMap<ProductRows> products_;  // sku -> its numbering and its undelivered rows
};

static_assert(ports::diagnose_outbox<Outbox>());

}  // namespace allocation::memory
