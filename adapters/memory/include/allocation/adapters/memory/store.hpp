// In-memory storage of products, shared by every unit of work made by one factory.
#pragma once

#include <cstddef>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "allocation/domain/model.hpp"

namespace allocation::memory {

namespace detail {
/// Lets unordered maps keyed by std::string be searched with a string_view, without a temporary string.
struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view text) const noexcept { return std::hash<std::string_view>{}(text); }
};
template <typename T>
using StringMap = std::unordered_map<std::string, T, StringHash, std::equal_to<>>;
}  // namespace detail

/// The "database" of the in-memory adapter. Units of work take its lock for their whole scope (like
/// SQLite's BEGIN IMMEDIATE), so they see and change products one at a time, from any number of threads.
class Store {
public:
    Store() = default;
    Store(const Store&) = delete;
    Store& operator=(const Store&) = delete;

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
    // The products seen and added by the open unit of work (only one is open at a time: it holds the
    // lock). Kept here, emptied at its end, so that their capacity serves the next one without a malloc.
    std::vector<Product*> seen_;
    std::vector<Product*> added_;
};

}  // namespace allocation::memory
