// In-memory allocations read model.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "allocation/adapters/memory/string_map.hpp"
#include "allocation/detail/flat_map.hpp"
#include "allocation/ports/views.hpp"

namespace allocation::memory {

/// Keeps each order's rows in as little memory as it can, so that a million orders stay cheap to reach:
/// an order maps to the number of its first row, and the distinct (sku, batchref) rows are stored once
/// each (there are about as many as batches). The rare orders with rows for several SKUs keep the others
/// in a second, small map.
class AllocationsView {
public:
    void add(std::string_view orderid, std::string_view sku, std::string_view batchref) {
        std::lock_guard lock(mutex_);
        const std::uint32_t row = intern(sku, batchref);
        auto [first, is_new] = first_row_.try_emplace(orderid);  // one hash, found or new
        if (is_new || rows_[*first].sku == sku) {
            *first = row;
            return;
        }
        std::vector<std::uint32_t>& more = *more_rows_.try_emplace(orderid).first;
        auto same_sku = std::find_if(more.begin(), more.end(), [&](std::uint32_t r) { return rows_[r].sku == sku; });
        if (same_sku == more.end()) {
            more.push_back(row);
        } else {
            *same_sku = row;
        }
    }

    void remove(std::string_view orderid, std::string_view sku) {
        std::lock_guard lock(mutex_);
        std::uint32_t* first = first_row_.find(orderid);
        if (first == nullptr) return;
        std::vector<std::uint32_t>* more = more_rows_.empty() ? nullptr : more_rows_.find(orderid);
        if (rows_[*first].sku == sku) {
            if (more == nullptr) {
                first_row_.erase(orderid);
                return;
            }
            *first = more->front();
            more->erase(more->begin());
        } else if (more != nullptr) {
            std::erase_if(*more, [&](std::uint32_t r) { return rows_[r].sku == sku; });
        }
        if (more != nullptr && more->empty()) more_rows_.erase(orderid);
    }

    std::vector<ports::AllocationRow> allocations(std::string_view orderid) const {
        std::lock_guard lock(mutex_);
        std::vector<ports::AllocationRow> result;
        const std::uint32_t* first = first_row_.find(orderid);
        if (first == nullptr) return result;
        const std::vector<std::uint32_t>* more = more_rows_.empty() ? nullptr : more_rows_.find(orderid);
        result.reserve(1 + (more == nullptr ? 0 : more->size()));
        result.push_back(rows_[*first]);
        if (more != nullptr) {
            for (std::uint32_t r : *more) result.push_back(rows_[r]);
        }
        return result;
    }

private:
    /// A row looked up by its parts, without building its strings.
    struct RowRef {
        std::string_view sku;
        std::string_view batchref;
    };
    struct RowHash {
        std::size_t operator()(const ports::AllocationRow& row) const noexcept { return hash(row.sku, row.batchref); }
        std::size_t operator()(const RowRef& row) const noexcept { return hash(row.sku, row.batchref); }
        static std::size_t hash(std::string_view sku, std::string_view batchref) noexcept {
            std::size_t h = std::hash<std::string_view>{}(sku);
            return h ^ (std::hash<std::string_view>{}(batchref) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2));
        }
    };
    struct RowEqual {
        bool operator()(const ports::AllocationRow& a, const ports::AllocationRow& b) const noexcept { return a == b; }
        bool operator()(const ports::AllocationRow& a, const RowRef& b) const noexcept {
            return a.sku == b.sku && a.batchref == b.batchref;
        }
    };

    // The number of the row (sku, batchref), stored on first sight and kept for good.
    // Successive allocations mostly go to one batch: the last row found is asked first.
    std::uint32_t intern(std::string_view sku, std::string_view batchref) {
        if (last_row_ < rows_.size() && rows_[last_row_].batchref == batchref && rows_[last_row_].sku == sku) {
            return last_row_;
        }
        if (const std::uint32_t* id = row_ids_.find(RowRef{sku, batchref})) return last_row_ = *id;
        const auto id = static_cast<std::uint32_t>(rows_.size());
        rows_.push_back({std::string(sku), std::string(batchref)});
        row_ids_.try_emplace(rows_.back(), id);
        return last_row_ = id;
    }

    template <typename Value>
    using ByOrder = allocation::detail::FlatMap<std::string, Value, allocation::detail::StringHash>;

    mutable std::mutex mutex_;
    ByOrder<std::uint32_t> first_row_;                     // orderid -> its oldest row
    ByOrder<std::vector<std::uint32_t>> more_rows_;        // orderid -> its other rows, oldest first; never empty
    std::vector<ports::AllocationRow> rows_;               // row number -> row
    std::uint32_t last_row_ = 0;                           // the row intern() returned last
    allocation::detail::FlatMap<ports::AllocationRow, std::uint32_t, RowHash, RowEqual> row_ids_;  // row -> number
};

static_assert(ports::diagnose_allocations_view<AllocationsView>());

}  // namespace allocation::memory
