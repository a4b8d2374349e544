// In-memory allocations read model.
#pragma once

#include <algorithm>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "allocation/adapters/memory/store.hpp"
#include "allocation/detail/flat_map.hpp"
#include "allocation/ports/views.hpp"

namespace allocation::memory {

class AllocationsView {
public:
    void add(std::string_view orderid, std::string_view sku, std::string_view batchref) {
        std::lock_guard lock(mutex_);
        auto [rows, is_new] = rows_.try_emplace(orderid);  // one hash, found or new
        if (is_new) {
            rows->first.sku = sku;
            rows->first.batchref = batchref;
        } else if (auto* row = rows->find(sku)) {
            row->batchref = batchref;
        } else {
            rows->more.push_back({std::string(sku), std::string(batchref)});
        }
    }

    void remove(std::string_view orderid, std::string_view sku) {
        std::lock_guard lock(mutex_);
        Rows* rows = rows_.find(orderid);
        if (rows == nullptr) return;
        if (rows->first.sku != sku) {
            std::erase_if(rows->more, [&](const auto& r) { return r.sku == sku; });
        } else if (rows->more.empty()) {
            rows_.erase(orderid);
        } else {
            rows->first = std::move(rows->more.front());
            rows->more.erase(rows->more.begin());
        }
    }

    std::vector<ports::AllocationRow> allocations(std::string_view orderid) const {
        std::lock_guard lock(mutex_);
        std::vector<ports::AllocationRow> result;
        if (const Rows* rows = rows_.find(orderid)) {
            result.reserve(1 + rows->more.size());
            result.push_back(rows->first);
            result.insert(result.end(), rows->more.begin(), rows->more.end());
        }
        return result;
    }

private:
    /// The rows of one order, oldest first, one per SKU. An order usually has one line, so its first row
    /// lives in the map's slot and only the others need a vector of their own.
    struct Rows {
        ports::AllocationRow first;
        std::vector<ports::AllocationRow> more;

        ports::AllocationRow* find(std::string_view sku) {
            if (first.sku == sku) return &first;
            auto row = std::find_if(more.begin(), more.end(), [&](const auto& r) { return r.sku == sku; });
            return row == more.end() ? nullptr : &*row;
        }
    };

    mutable std::mutex mutex_;
    allocation::detail::FlatMap<std::string, Rows, detail::StringHash> rows_;  // orderid -> rows
};

static_assert(ports::AllocationsView<AllocationsView>);

}  // namespace allocation::memory
