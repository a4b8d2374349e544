// The Repository port of an SQL adapter, written once: the lookups' rules (allocation::detail::LoadedProducts) over
// the adapter's tables, which supply only how to read a product and how to write its changes.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "allocation/detail/loaded_products.hpp"
#include "allocation/detail/product_cache.hpp"
#include "allocation/detail/write_changes.hpp"
#include "allocation/domain/model.hpp"

namespace allocation::detail {

/// What the Tables of every SQL adapter (see SqlRepository) are made of, for them to derive from: the unit of
/// work's connection (`Lease`), the database's name as their messages give it, and the writing of a product's
/// changes through the adapter's ChangeWriter, reusing one ChangeScratch from one product to the next.
template <typename Lease>
class SqlTables {
public:
    using Entry = LoadedProduct;

    SqlTables(Lease& lease, const std::string& where) noexcept : lease_(lease), where_(where) {}
    SqlTables(const SqlTables&) = delete;
    SqlTables& operator=(const SqlTables&) = delete;

protected:
    Lease& lease() const noexcept { return lease_; }
    const std::string& where() const noexcept { return where_; }

    /// Writes exactly what the product's change record says (allocation::detail::write_changes) with `writer`.
    template <ChangeWriter W>
    void write_changes_with(W writer, Entry& entry) {
        write_changes(writer, entry, scratch_);
    }

private:
    Lease& lease_;
    const std::string& where_;
    ChangeScratch scratch_;
};

/// What each lookup loads at least, so that a command costs the same however long the product's history is:
/// - `get(sku)`: the product, its batches (exact quantities) and its waiting lines (a backlog, not history: a
///   line waits only while no batch can take it);
/// - `get_for_order(sku, orderid)`: the same plus every line of that order;
/// - `get_by_batchref(reference)`: the same plus every line of that batch.
/// A product may hold other lines too (those that earlier units of work on the connection loaded or allocated,
/// still true at its version); `Batch::all_lines_loaded()` tells whether a batch holds all of its lines.
/// A product that an earlier unit of work on the same connection ended with is handed out again, without being
/// read, when one statement shows that it is still the stored one (see ProductCache).
///
/// A product is handed out again as the same object. If a later lookup needs lines that were not loaded, an
/// unchanged product is reloaded in place; a product that already has uncommitted changes cannot be, and the
/// lookup throws std::logic_error (look up what you need before changing it, as the handlers do). References
/// into a product taken before its reload (a Batch&, a span of lines) stay valid until the unit of work ends,
/// and show it as it was before: look up again what the reload loaded.
///
/// `Tables` is the adapter's access to its tables, built on SqlTables: the Reader of LoadedProducts (`read`,
/// `sku_of`, `still_stored`), and the writing of a product's changes in the commit's transaction, which its unit of
/// work reaches through `tables()`.
template <typename Tables>
class SqlRepository {
public:
    /// `cache`: the connection's products; `args`: what the adapter's Tables is made from.
    template <typename... Args>
    explicit SqlRepository(ProductCache& cache, Args&&... args)
        : tables_(std::forward<Args>(args)...), loaded_(tables_, cache) {}
    SqlRepository(const SqlRepository&) = delete;
    SqlRepository& operator=(const SqlRepository&) = delete;

    /// Tracks a new product. Its row is inserted on commit; if someone else stored the same SKU meanwhile, that
    /// commit throws ConcurrencyError.
    Product& add(Product product) { return loaded_.add(std::move(product)); }
    Product* get(std::string_view sku) { return loaded_.get(sku); }
    Product* get_for_order(std::string_view sku, std::string_view orderid) {
        return loaded_.get_for_order(sku, orderid);
    }
    Product* get_by_batchref(std::string_view reference) { return loaded_.get_by_batchref(reference); }
    std::span<Product* const> seen() const noexcept { return loaded_.seen(); }

    /// For the unit of work: the products it handed out, and the tables it writes them to.
    LoadedProducts<Tables>& loaded() noexcept { return loaded_; }
    const LoadedProducts<Tables>& loaded() const noexcept { return loaded_; }
    Tables& tables() noexcept { return tables_; }

private:
    Tables tables_;
    LoadedProducts<Tables> loaded_;
};

}  // namespace allocation::detail
