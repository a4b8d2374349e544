// In-memory Repository: hands out the stored products themselves; its unit of work undoes their changes.
#pragma once

#include <algorithm>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "allocation/adapters/memory/store.hpp"
#include "allocation/detail/savepoints.hpp"
#include "allocation/domain/errors.hpp"
#include "allocation/domain/events.hpp"
#include "allocation/domain/model.hpp"
#include "allocation/ports/repository.hpp"

namespace allocation::memory {

/// Every lookup returns the whole product, so each port guarantee about loaded lines holds trivially.
/// Only used by a unit of work that holds the store's lock.
class Repository {
public:
    explicit Repository(Store& store) : store_(store), seen_(store.seen_), added_(store.added_) {}

    Product& add(Product product) {
        auto [it, inserted] = store_.products_.try_emplace(product.sku(), std::move(product));
        if (!inserted) throw Error("Product " + it->first + " already exists");
        added_.push_back(&it->second);
        return track(it->second);
    }

    Product* get(std::string_view sku) {
        auto it = store_.products_.find(sku);
        return it == store_.products_.end() ? nullptr : &track(it->second);
    }

    Product* get_for_order(std::string_view sku, std::string_view /*orderid*/) { return get(sku); }

    Product* get_by_batchref(std::string_view reference) {
        if (auto it = store_.batch_owner_.find(reference); it != store_.batch_owner_.end()) return get(it->second);
        // A batch added by this unit of work is not indexed until commit.
        for (Product* product : seen_) {
            if (product->batch(reference) != nullptr) return product;
        }
        return nullptr;
    }

    std::span<Product* const> seen() const noexcept { return seen_; }

    /// Where the products stood, and how many were new (ports::Savepoints).
    struct Savepoint {
        allocation::detail::ProductsSavepoint products;
        std::size_t added = 0;
    };
    Savepoint savepoint() const { return {allocation::detail::products_savepoint(seen_), added_.size()}; }
    /// Undoes the products' changes since `point`; the products added since leave the store.
    void rollback_to(const Savepoint& point) noexcept {
        allocation::detail::rollback_products(seen_, point.products);
        while (added_.size() > point.added) {
            Product* product = added_.back();
            added_.pop_back();
            std::erase(seen_, product);
            std::string sku = product->sku();  // the key goes away with the product
            store_.products_.erase(sku);
        }
    }

private:
    friend class UnitOfWork;

    Product& track(Product& product) {
        if (std::find(seen_.begin(), seen_.end(), &product) == seen_.end()) seen_.push_back(&product);
        product.number_events_from(store_.event_sequence_);
        return product;
    }

    // Keeps every change, hands the events over, and indexes the batches that are new.
    void commit(std::vector<events::Event>& events) {
        for (Product* product : seen_) {
            const bool is_new = std::find(added_.begin(), added_.end(), product) != added_.end();
            for (const auto& change : product->changes()) {
                if (const auto* added = std::get_if<changes::BatchAdded>(&change); added && !is_new) {
                    index(product->batches()[added->slot], *product);
                }
            }
            if (is_new) {
                for (const Batch& batch : product->batches()) index(batch, *product);
            }
        }
        allocation::mark_committed(seen_, events);
        added_.clear();
    }

    void index(const Batch& batch, const Product& product) {
        store_.batch_owner_.try_emplace(batch.reference(), product.sku());
    }

    void rollback() noexcept {
        for (auto it = seen_.rbegin(); it != seen_.rend(); ++it) (*it)->discard_changes();
        for (Product* product : added_) {
            std::string sku = product->sku();  // the key goes away with the product
            store_.products_.erase(sku);
        }
        added_.clear();
        seen_.clear();
    }

    Store& store_;
    std::vector<Product*>& seen_;   // the store's, empty when a unit of work begins and when it ends
    std::vector<Product*>& added_;
};

static_assert(ports::diagnose_repository<Repository>());

}  // namespace allocation::memory
