// In-memory storage of products, shared by every unit of work made by one factory.
#pragma once

#include <atomic>
#include <cstddef>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "allocation/adapters/memory/outbox.hpp"
#include "allocation/adapters/memory/processed_messages.hpp"
#include "allocation/adapters/memory/string_map.hpp"
#include "allocation/adapters/memory/views.hpp"
#include "allocation/domain/errors.hpp"
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

    /// The outbox, for relays: units of work append to it on commit, under the store's lock, the rows of the
    /// events that leave the process.
    Outbox& outbox() noexcept { return outbox_; }
    const Outbox& outbox() const noexcept { return outbox_; }

    /// Committed state, for tests and tools. Throws StorageError while a unit of work of this thread is open.
    std::size_t product_count() const {
        Lock lock(*this, "cannot count the products");
        return products_.size();
    }

    /// Calls `f(const Product&)` for every product, with the changes of the unit of work open on this thread, for
    /// an adapter that keeps this store and writes its products elsewhere too (allocation::csv). Only from the
    /// thread whose unit of work holds the store's lock.
    template <typename F>
    void for_each_product(F&& f) const {
        for (const auto& entry : products_) f(entry.second);
    }

private:
    friend class Repository;
    friend class UnitOfWork;

    // The store's lock, taken once per thread: taking it again on the thread that holds it would deadlock, so
    // that fails clearly instead, as it does on SQLite's ":memory:". Units of work do not nest.
    class Lock {
    public:
        Lock(const Store& store, const char* doing) : store_(store) {
            // Relaxed is enough: only this thread ever stores its own id, so it reads it only while it holds
            // the lock.
            if (store.owner_.load(std::memory_order_relaxed) == std::this_thread::get_id()) {
                throw StorageError(std::string("in-memory store: ") + doing +
                                   ": another unit of work of this thread is still open; finish it first");
            }
            lock_ = std::unique_lock(store.mutex_);
            store.owner_.store(std::this_thread::get_id(), std::memory_order_relaxed);
        }
        Lock(const Lock&) = delete;
        Lock& operator=(const Lock&) = delete;
        ~Lock() { store_.owner_.store(std::thread::id{}, std::memory_order_relaxed); }  // before the unlock

    private:
        const Store& store_;
        std::unique_lock<std::mutex> lock_;
    };

    mutable std::mutex mutex_;
    mutable std::atomic<std::thread::id> owner_{};  // the thread holding mutex_, if any
    detail::StringMap<Product> products_;
    detail::StringMap<std::string> batch_owner_;  // batch reference -> sku, for committed batches
    AllocationsView allocations_;
    Outbox outbox_;
    MessageIds processed_;  // the ids of the messages committed units of work applied
    // The products seen and added by the open unit of work (only one is open at a time: it holds the
    // lock). Kept here, emptied at its end, so that their capacity serves the next one without a malloc.
    std::vector<Product*> seen_;
    std::vector<Product*> added_;
    EventSequence event_sequence_;  // numbers the events of the products the units of work hand out, one at a time
    ViewChanges view_changes_;
};

}  // namespace allocation::memory
