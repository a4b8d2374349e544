// The products one unit of work of an SQL adapter handed out: the lookups' rules (which lines each loads, reloads,
// the connection's ProductCache) and the bookkeeping of commit and rollback, written once for every such adapter.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "allocation/detail/product_cache.hpp"
#include "allocation/detail/savepoints.hpp"
#include "allocation/outbox.hpp"
#include "allocation/ports/outbox.hpp"
#include "allocation/domain/errors.hpp"
#include "allocation/domain/events.hpp"
#include "allocation/domain/model.hpp"

namespace allocation::detail {

/// A stored batch as a lookup reads it, before it becomes a Batch.
struct BatchRow {
    std::int64_t id;
    std::string reference;
    Quantity purchased;
    std::optional<Date> eta;
    Quantity allocated;
    std::vector<std::pair<std::int64_t, OrderLine>> lines;  // (row id, line)
};

/// A product's rows as a lookup read them.
struct ProductRows {
    bool found = false;
    std::int64_t version = 0;
    std::vector<BatchRow> rows;                                // in any order: build() sorts them by id
    std::vector<std::pair<std::int64_t, OrderLine>> waiting;  // (row id, line), in any order
};

/// The product from its rows, for a lookup that loaded every line of `orders` and of `full_batches`. Batches,
/// lines and waiting lines are kept oldest first (by row id); an order's and a batch's lines may overlap, so
/// duplicates go. Throws CorruptData when the rows break a rule of the domain.
inline std::unique_ptr<LoadedProduct> build(const std::string& sku, ProductRows& loaded, std::vector<std::string> orders,
                                            std::vector<std::string> full_batches) {
    auto by_id = [](const auto& a, const auto& b) { return a.first < b.first; };
    std::sort(loaded.rows.begin(), loaded.rows.end(), [](const BatchRow& a, const BatchRow& b) { return a.id < b.id; });
    std::sort(loaded.waiting.begin(), loaded.waiting.end(), by_id);
    std::vector<Batch> batches;
    std::vector<std::int64_t> ids;
    batches.reserve(loaded.rows.size());
    ids.reserve(loaded.rows.size());
    for (BatchRow& row : loaded.rows) {
        std::sort(row.lines.begin(), row.lines.end(), by_id);
        row.lines.erase(std::unique(row.lines.begin(), row.lines.end(),
                                    [](const auto& a, const auto& b) { return a.first == b.first; }),
                        row.lines.end());
        std::vector<OrderLine> lines;
        lines.reserve(row.lines.size());
        for (auto& [id, line] : row.lines) lines.push_back(std::move(line));
        batches.emplace_back(std::move(row.reference), sku, row.purchased, row.eta, std::move(lines), row.allocated);
        ids.push_back(row.id);
    }
    std::vector<OrderLine> waiting;
    waiting.reserve(loaded.waiting.size());
    for (auto& [id, line] : loaded.waiting) waiting.push_back(std::move(line));
    auto entry = std::make_unique<LoadedProduct>(Product(sku, std::move(batches), loaded.version, std::move(waiting)));
    entry->batch_ids = std::move(ids);
    entry->orders = std::move(orders);
    entry->full_batches = std::move(full_batches);
    return entry;
}

/// The products of one unit of work, and the rules of the Repository port's lookups over a `Reader`, the
/// adapter's own access to its tables (which translates its library's errors itself):
/// - `read(sku, orders, full_batches)`: the product as stored with every line of those orders and batches
///   (one snapshot), or nullptr;
/// - `still_stored(entry)`: whether the stored version of the product is still the one `entry.product` was loaded
///   with and, when `entry.orders` is not empty, its last order has no stored line of the SKU: then the product
///   held is complete for that order (a product kept by the connection's cache, or one this unit of work holds
///   already);
/// - `sku_of(reference)`: the SKU of a stored batch, or nothing.
///
/// A product is handed out again as the same object. If a later lookup needs lines that were not loaded, an
/// unchanged product is reloaded in place; one with uncommitted changes cannot be, and the lookup throws
/// LinesNotLoaded. A new order's lookup needs none: the order has no stored line. What a reload replaces stays alive until the unit of work ends, so references into it stay
/// valid. The products go back to the cache when this ends.
template <typename Reader>
class LoadedProducts {
public:
    LoadedProducts(Reader& reader, ProductCache& cache) noexcept : reader_(reader), cache_(cache) {}
    LoadedProducts(const LoadedProducts&) = delete;
    LoadedProducts& operator=(const LoadedProducts&) = delete;
    ~LoadedProducts() {
        for (auto& entry : entries_) cache_.keep(std::move(entry));
    }

    /// Tracks a new product; its batches must hold all their lines (stored, a batch's quantity is its lines').
    Product& add(Product product) {
        if (find(product.sku()) != nullptr) throw Error("Product " + product.sku() + " already exists");
        for (const Batch& batch : product.batches()) {
            if (!batch.all_lines_loaded()) {
                throw std::invalid_argument("new product " + product.sku() + ": the lines of batch " +
                                            batch.reference() + " do not add up to its allocated quantity of " +
                                            std::to_string(batch.allocated_quantity()) +
                                            "; a new product's batches must hold all their lines");
            }
        }
        auto entry = std::make_unique<LoadedProduct>(std::move(product));
        entry->stored = false;
        return track(std::move(entry));
    }

    Product* get(std::string_view sku) {
        if (LoadedProduct* entry = find(sku)) return &entry->product;
        return load_new(sku, {}, {});
    }

    Product* get_for_order(std::string_view sku, std::string_view orderid) {
        LoadedProduct* entry = find(sku);
        if (entry == nullptr) return load_new(sku, {std::string(orderid)}, {});
        if (entry->stored && !contains(entry->orders, orderid)) {
            entry->orders.emplace_back(orderid);
            if (!reader_.still_stored(*entry)) reload(*entry);  // the order has a stored line (or the product moved)
        }
        return &entry->product;
    }

    Product* get_by_batchref(std::string_view reference) {
        for (LoadedProduct* entry : tracked_) {
            const auto batches = entry->product.batches();
            for (std::size_t slot = 0; slot < batches.size(); ++slot) {
                if (batches[slot].reference() != reference) continue;
                // A batch this unit of work added is entirely in memory.
                if (entry->stored && slot < entry->batch_ids.size() && !contains(entry->full_batches, reference)) {
                    entry->full_batches.emplace_back(reference);
                    reload(*entry);
                }
                return &entry->product;
            }
        }
        auto sku = reader_.sku_of(reference);
        if (!sku) return nullptr;
        if (LoadedProduct* entry = find(*sku)) {  // its batch was stored after the product was read
            entry->full_batches.emplace_back(reference);
            reload(*entry);
            return &entry->product;
        }
        return load_new(*sku, {}, {std::string(reference)});
    }

    std::span<Product* const> seen() const noexcept { return seen_; }
    std::span<LoadedProduct* const> tracked() const noexcept { return tracked_; }

    /// Whether a commit has anything of the products to write.
    bool has_work() const noexcept {
        return std::any_of(tracked_.begin(), tracked_.end(),
                           [](const LoadedProduct* e) { return !e->stored || e->product.changed(); });
    }

    /// After the commit's transaction: the stored state is the products' state; their events go to `events`.
    void committed(std::vector<events::Event>& events) {
        for (LoadedProduct* entry : tracked_) {
            // A swap rather than a move, so that both vectors keep their capacity for the next unit of work.
            if (!entry->stored || entry->product.changed()) std::swap(entry->batch_ids, entry->pending_ids);
            entry->pending_ids.clear();
            entry->stored = true;
        }
        allocation::mark_committed(seen_, events);
    }

    ProductsSavepoint savepoint() const { return products_savepoint(seen_); }
    /// Undoes the products' changes since `point`; the products this unit of work created since are forgotten.
    void rollback_to(const ProductsSavepoint& point) noexcept {
        rollback_products(seen_, point);
        for (std::size_t i = tracked_.size(); i-- > point.products.size();) {
            if (tracked_[i]->stored) continue;
            tracked_.erase(tracked_.begin() + static_cast<std::ptrdiff_t>(i));
            seen_.erase(seen_.begin() + static_cast<std::ptrdiff_t>(i));
        }
    }

    /// Undoes the products' changes and forgets them; the objects stay alive until the unit of work ends, so
    /// pointers the caller still holds stay valid.
    void discard() noexcept {
        for (auto it = tracked_.rbegin(); it != tracked_.rend(); ++it) (*it)->product.discard_changes();
        tracked_.clear();
        seen_.clear();
    }

private:
    static bool contains(const std::vector<std::string>& names, std::string_view name) {
        return std::find(names.begin(), names.end(), name) != names.end();
    }

    LoadedProduct* find(std::string_view sku) const noexcept {
        for (LoadedProduct* entry : tracked_) {
            if (entry->product.sku() == sku) return entry;
        }
        return nullptr;
    }

    Product& track(std::unique_ptr<LoadedProduct> entry) {
        entries_.push_back(std::move(entry));
        tracked_.push_back(entries_.back().get());
        seen_.push_back(&entries_.back()->product);
        entries_.back()->product.number_events_from(sequence_);
        return entries_.back()->product;
    }

    // A lookup of a product not held yet: the cache's copy when it is still the stored one (and no batch's lines
    // are asked for), else the stored product.
    Product* load_new(std::string_view sku, std::vector<std::string> orders, std::vector<std::string> full_batches) {
        std::unique_ptr<LoadedProduct> cached = cache_.take(sku);
        if (cached && full_batches.empty()) {
            cached->orders = orders;
            if (reader_.still_stored(*cached)) return &track(std::move(cached));
        }
        auto entry = reader_.read(sku, std::move(orders), std::move(full_batches));
        return entry ? &track(std::move(entry)) : nullptr;
    }

    void reload(LoadedProduct& entry) {
        if (entry.product.changed() || !entry.product.events().empty()) {
            throw LinesNotLoaded("product " + entry.product.sku() +
                                   " has uncommitted changes and its other lines were not loaded; look up every "
                                   "order or batch you need before changing the product");
        }
        auto fresh = reader_.read(entry.product.sku(), std::move(entry.orders), std::move(entry.full_batches));
        if (!fresh) throw StorageError("reading product " + entry.product.sku() + ": the product disappeared");
        // The caller may hold references into the product it was handed (a Batch&, the span of a batch's lines):
        // the old state moves aside whole, its buffers with it, and stays alive until the unit of work ends.
        retired_.push_back(std::make_unique<Product>(std::move(entry.product)));
        entry.product = std::move(fresh->product);
        entry.product.number_events_from(sequence_);
        entry.batch_ids = std::move(fresh->batch_ids);
        entry.orders = std::move(fresh->orders);
        entry.full_batches = std::move(fresh->full_batches);
    }

    Reader& reader_;
    ProductCache& cache_;
    std::vector<std::unique_ptr<LoadedProduct>> entries_;
    std::vector<LoadedProduct*> tracked_;
    std::vector<Product*> seen_;
    std::vector<std::unique_ptr<Product>> retired_;  // what reload() replaced, alive for references to it
    EventSequence sequence_;                          // numbers the events of every product handed out
};

/// Whether any of `products` raised, since its last commit, an event that leaves the process.
inline bool any_raises_outbound(std::span<Product* const> products) noexcept {
    return std::any_of(products.begin(), products.end(), [](const Product* p) { return raises_outbound(*p); });
}

/// Makes the outbox rows of what the commit's products raised, each in the ports::OutboxMessage& that `next_row()`
/// returns (allocation::store_outbound), for the commit's transaction.
/// A product this commit changes (or creates) is stored with its new version, at which no row exists yet; one it
/// did not change keeps its stored version, and its rows follow those already stored at that version, which
/// `next_position(sku)` reads: the pair (stored version, next position).
template <typename NextPosition, typename NextRow>
void store_outbox_rows(std::span<LoadedProduct* const> products, NextPosition&& next_position, NextRow&& next_row) {
    const auto now = ports::OutboxClock::now();
    for (const LoadedProduct* entry : products) {
        const Product& product = entry->product;
        if (!raises_outbound(product)) continue;
        auto [version, position] = !entry->stored || product.changed()
                                       ? std::pair<std::int64_t, std::int64_t>{product.version_number(), 0}
                                       : next_position(product.sku());
        store_outbound(product, version, position, now, next_row);
    }
}

}  // namespace allocation::detail
