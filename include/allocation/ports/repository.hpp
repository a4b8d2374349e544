// The Repository port: the collection of Product aggregates a unit of work reads and changes.
#pragma once

#include <concepts>
#include <span>
#include <string_view>
#include <utility>

#include "allocation/domain/model.hpp"

namespace allocation::ports {

/// A repository hands out products and remembers every product it handed out ("seen"), so that its
/// unit of work can store their changes and collect their events on commit. It gives every product it hands out
/// one EventSequence of its own (Product::number_events_from), so that those events come back in the order raised.
///
/// Lines may be loaded lazily (a database adapter need not read a product's whole history to allocate one
/// more line), so each lookup states which lines it guarantees to have loaded; batch quantities are always
/// exact, and every lookup loads all of the product's waiting lines (Product::waiting), since any change may
/// allocate them and any Allocate must see whether its line waits. A product handed out once is handed out again as the same object for the rest of the unit of work;
/// a lookup that needs more lines of a product already changed in this unit of work is a programming error
/// (std::logic_error) for an adapter that loads lazily: look up what you need before changing it.
/// A lookup never invalidates a reference into a product handed out earlier (a `const Batch&`, the span of a
/// batch's lines): it stays valid until the unit of work ends, though after a lookup that loaded more lines it
/// may show the product as it was before. Only the product's own changes move its batches and lines.
template <typename R>
concept Repository = requires(R& repo, Product product, std::string_view sku, std::string_view orderid,
                              std::string_view reference) {
    /// Takes a new product (no stored product has its SKU) and tracks it; returns the tracked object.
    { repo.add(std::move(product)) } -> std::same_as<Product&>;
    /// The product with that SKU, or nullptr. Which lines are loaded is up to the adapter.
    { repo.get(sku) } -> std::same_as<Product*>;
    /// The product with that SKU, or nullptr, with every line of order `orderid` loaded: enough to
    /// allocate a line of that order without allocating it twice.
    { repo.get_for_order(sku, orderid) } -> std::same_as<Product*>;
    /// The product that has a batch with that reference, or nullptr, with every line of that batch loaded:
    /// enough to change its quantity and deallocate what no longer fits.
    { repo.get_by_batchref(reference) } -> std::same_as<Product*>;
    /// Every product handed out or added so far, in that order.
    { std::as_const(repo).seen() } -> std::convertible_to<std::span<Product* const>>;
};

/// Names, one sentence per requirement, what keeps R from being a Repository, so that an adapter author reads
/// what is missing rather than a template backtrace. Beside an adapter: `static_assert(diagnose_repository<R>());`
template <typename R>
consteval bool diagnose_repository() {
    static_assert(requires(R& repo, Product product) {
        { repo.add(std::move(product)) } -> std::same_as<Product&>;
    }, "a Repository needs `Product& add(Product product)`, returning the product it now tracks");
    static_assert(requires(R& repo, std::string_view sku) {
        { repo.get(sku) } -> std::same_as<Product*>;
    }, "a Repository needs `Product* get(std::string_view sku)`, nullptr when there is no such product");
    static_assert(requires(R& repo, std::string_view sku, std::string_view orderid) {
        { repo.get_for_order(sku, orderid) } -> std::same_as<Product*>;
    }, "a Repository needs `Product* get_for_order(std::string_view sku, std::string_view orderid)`");
    static_assert(requires(R& repo, std::string_view reference) {
        { repo.get_by_batchref(reference) } -> std::same_as<Product*>;
    }, "a Repository needs `Product* get_by_batchref(std::string_view reference)`");
    static_assert(requires(const R& repo) {
        { repo.seen() } -> std::convertible_to<std::span<Product* const>>;
    }, "a Repository needs `std::span<Product* const> seen() const`, every product it handed out");
    return Repository<R>;
}

}  // namespace allocation::ports
