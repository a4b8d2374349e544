// Products kept by a database connection from one unit of work to the next, and trusted only after a version
// check: a building block of the SQL adapters' repositories.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "allocation/detail/string_hash.hpp"
#include "allocation/domain/model.hpp"

namespace allocation::detail {

/// A product as a unit of work holds it, with what the adapter needs to write it back.
struct LoadedProduct {
    explicit LoadedProduct(Product p) : product(std::move(p)) {}
    Product product;
    bool stored = true;                       // false until the first commit of an added product
    std::vector<std::int64_t> batch_ids;      // row id of each stored batch, by slot
    std::vector<std::int64_t> pending_ids;    // the same as they will be once the running commit succeeds
    std::vector<std::string> orders;          // orders whose lines are all loaded
    std::vector<std::string> full_batches;    // batches whose lines are all loaded
    std::uint64_t last_used = 0;              // for the cache's least-recently-used eviction
};

/// The products that the units of work of one connection ended with, as they are stored at their versions.
///
/// Loading a product from the database means reading its batches and building it: the larger part of a lookup's
/// cost. A product from this cache is handed out instead when one statement, reading the stored version (and,
/// for an order's lookup, whether that order has a line of the SKU), shows that nothing changed since: every
/// change to a product's batches or lines moves its version up, the rule the commit's compare-and-set relies
/// on too. Anything else, including a lookup that must load lines, reads the product afresh.
///
/// Kept: products without uncommitted changes, holding at most `max_lines` loaded lines, waiting ones included
/// (those loaded or allocated by earlier units of work, all still true at the version), at most `capacity` of
/// them, the least recently used going first. One connection, one cache: used by one unit of work at a time.
class ProductCache {
public:
    static constexpr std::size_t capacity = 256;
    static constexpr std::size_t max_lines = 64;

    /// Takes the product of `sku` out of the cache: nullptr when there is none.
    std::unique_ptr<LoadedProduct> take(std::string_view sku) noexcept {
        auto it = entries_.find(sku);
        if (it == entries_.end()) return nullptr;
        return std::move(it->second);  // the slot stays, empty, for the product's return
    }

    /// Keeps a product that a unit of work ends with, if it is as stored; anything else is dropped.
    void keep(std::unique_ptr<LoadedProduct> entry) noexcept {
        if (!entry || !entry->stored || entry->product.changed() || !entry->product.events().empty()) return;
        std::size_t lines = entry->product.waiting().size();
        for (const Batch& batch : entry->product.batches()) lines += batch.allocations().size();
        if (lines > max_lines) return;
        entry->orders.clear();  // they speak of what one unit of work asked for
        entry->full_batches.clear();
        entry->last_used = ++clock_;
        try {
            auto it = entries_.find(std::string_view(entry->product.sku()));
            if (it == entries_.end()) {
                if (entries_.size() >= capacity) evict();
                entries_.emplace(entry->product.sku(), std::move(entry));
            } else {
                it->second = std::move(entry);
            }
        } catch (...) {
            // Out of memory: the product is simply not kept.
        }
    }

    std::size_t size() const noexcept { return entries_.size(); }

private:
    // Drops the empty slots and the least recently used product.
    void evict() noexcept {
        auto oldest = entries_.end();
        for (auto it = entries_.begin(); it != entries_.end();) {
            if (!it->second) {
                it = entries_.erase(it);
                continue;
            }
            if (oldest == entries_.end() || it->second->last_used < oldest->second->last_used) oldest = it;
            ++it;
        }
        if (entries_.size() >= capacity && oldest != entries_.end()) entries_.erase(oldest);
    }

    std::unordered_map<std::string, std::unique_ptr<LoadedProduct>, StringHash, std::equal_to<>>
        entries_;
    std::uint64_t clock_ = 0;
};

}  // namespace allocation::detail
