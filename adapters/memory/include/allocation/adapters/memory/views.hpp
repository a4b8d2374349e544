// In-memory allocations read model.
#pragma once

#include <algorithm>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "allocation/adapters/memory/store.hpp"
#include "allocation/ports/views.hpp"

namespace allocation::memory {

class AllocationsView {
public:
    void add(std::string_view orderid, std::string_view sku, std::string_view batchref) {
        std::lock_guard lock(mutex_);
        auto& rows = rows_.try_emplace(std::string(orderid)).first->second;  // one hash, found or new
        auto row = std::find_if(rows.begin(), rows.end(), [&](const auto& r) { return r.sku == sku; });
        if (row == rows.end()) {
            rows.push_back({std::string(sku), std::string(batchref)});
        } else {
            row->batchref = batchref;
        }
    }

    void remove(std::string_view orderid, std::string_view sku) {
        std::lock_guard lock(mutex_);
        auto it = rows_.find(orderid);
        if (it == rows_.end()) return;
        std::erase_if(it->second, [&](const auto& r) { return r.sku == sku; });
        if (it->second.empty()) rows_.erase(it);
    }

    std::vector<ports::AllocationRow> allocations(std::string_view orderid) const {
        std::lock_guard lock(mutex_);
        auto it = rows_.find(orderid);
        return it == rows_.end() ? std::vector<ports::AllocationRow>{} : it->second;
    }

private:
    mutable std::mutex mutex_;
    detail::StringMap<std::vector<ports::AllocationRow>> rows_;
};

static_assert(ports::AllocationsView<AllocationsView>);

}  // namespace allocation::memory
