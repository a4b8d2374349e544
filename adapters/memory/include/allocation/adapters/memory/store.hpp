// In-memory storage of products, shared by every unit of work made by one factory.
#pragma once

#include <cstddef>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "allocation/adapters/memory/string_map.hpp"
#include "allocation/adapters/memory/views.hpp"
#include "allocation/domain/model.hpp"
#include "allocation/view_changes.hpp"

namespace allocation::memory {


/// The "database" of the in-memory adapter. Units of work take its lock for their whole scope (like
/// SQLite's BEGIN IMMEDIATE), so they see and change products one at a time, from any number of threads.
class Store {
public:
    Store() = default;
    Store(const Store&) = delete;
    Store& operator=(const Store&) = delete;

    /// The committed read model, for queries: `views::allocations(orderid, store.allocations())`. Units of work
    /// change it on commit, under the store's lock, so it always agrees with the committed products.
    AllocationsView& allocations() noexcept { return allocations_; }
    const AllocationsView& allocations() const noexcept { return allocations_; }

    /// Committed state, for tests and tools; not to be called while a unit of work of this thread is open.
    std::size_t product_count() const {
        std::lock_guard lock(mutex_);
        return products_.size();
    }

private:
    friend class Repository;
    friend class UnitOfWork;

    mutable std::mutex mutex_;
    detail::StringMap<Product> products_;
    detail::StringMap<std::string> batch_owner_;  // batch reference -> sku, for committed batches
    AllocationsView allocations_;
    // The products seen and added by the open unit of work (only one is open at a time: it holds the
    // lock). Kept here, emptied at its end, so that their capacity serves the next one without a malloc.
    std::vector<Product*> seen_;
    std::vector<Product*> added_;
    ViewChanges view_changes_;
};

}  // namespace allocation::memory
