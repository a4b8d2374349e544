// The Batch entity: stock of one SKU, changed only through its Product.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "allocation/domain/errors.hpp"
#include "allocation/domain/order_line.hpp"
#include "allocation/domain/rules.hpp"

namespace allocation {

class Product;

/// Stock of one SKU with a unique reference; in the warehouse when it has no eta, a shipment otherwise.
/// An entity: two batches are the same batch when their references are equal.
/// Batches change only through their Product, which keeps the aggregate's rules.
class Batch {
public:
    /// A new batch: checks its ids, its quantity and its eta (InvalidId, InvalidQuantity, InvalidDate).
    Batch(std::string reference, std::string sku, Quantity purchased_quantity, std::optional<Date> eta = {})
        : reference_(std::move(reference)), sku_(std::move(sku)), eta_(eta), purchased_(purchased_quantity) {
        check_id(reference_, "batch reference");
        check_id(sku_, "sku");
        check_quantity(purchased_, "qty");
        check_eta(eta_);
    }

    /// Rebuilds a stored batch. `lines` may be a subset of its allocations (an adapter that loads lazily);
    /// `allocated_quantity` is always the total, so availability stays exact. Throws CorruptData, naming what
    /// is wrong, when the stored state breaks a rule that every change of the domain keeps.
    Batch(std::string reference, std::string sku, Quantity purchased_quantity, std::optional<Date> eta,
          std::vector<OrderLine> lines, Quantity allocated_quantity)
        : reference_(std::move(reference)), sku_(std::move(sku)), eta_(eta), purchased_(purchased_quantity),
          allocated_(allocated_quantity), lines_(std::move(lines)) {
        check_stored_fields();
        for (const OrderLine& line : lines_) check_stored_line(line);
    }

    const std::string& reference() const noexcept { return reference_; }
    const std::string& sku() const noexcept { return sku_; }
    const std::optional<Date>& eta() const noexcept { return eta_; }
    Quantity purchased_quantity() const noexcept { return purchased_; }
    /// Maintained on every change, never re-summed: O(1).
    Quantity allocated_quantity() const noexcept { return allocated_; }
    Quantity available_quantity() const noexcept { return purchased_ - allocated_; }
    /// The lines allocated to this batch (those loaded, for a lazily loaded batch), oldest first.
    std::span<const OrderLine> allocations() const noexcept { return lines_; }
    /// Whether allocations() holds every line of the batch. Exact: every line has a quantity of at least 1, so
    /// only all of them add up to the allocated quantity.
    bool all_lines_loaded() const noexcept { return loaded_ == allocated_; }

    bool can_allocate(const OrderLine& line) const noexcept {
        return line.sku == sku_ && available_quantity() >= line.qty;
    }

    friend bool operator==(const Batch& a, const Batch& b) noexcept { return a.reference_ == b.reference_; }

private:
    friend class Product;

    [[noreturn]] void corrupt(const std::string& what) const {
        throw CorruptData("Stored batch " + reference_ + " of " + sku_ + " " + what);
    }
    void check_stored_fields() const {
        if (auto problem = id_problem(reference_)) corrupt("has a reference that " + *problem);
        if (auto problem = id_problem(sku_)) corrupt("has a sku that " + *problem);
        if (eta_ && !date_in_range(*eta_)) corrupt("has an eta that is not a real day: " + detail::date_text(*eta_));
        if (!quantity_in_range(purchased_, min_changed_quantity)) {
            corrupt("has a purchased quantity that " + quantity_range(min_changed_quantity) + ": " +
                    std::to_string(purchased_));
        }
        if (allocated_ < 0 || allocated_ > purchased_) {
            corrupt("allocates " + std::to_string(allocated_) + " of " + std::to_string(purchased_) + " purchased");
        }
    }
    // Sums the loaded lines as it goes; the sum never overflows: it stays at most the allocated quantity.
    void check_stored_line(const OrderLine& line) {
        const std::string of_order = "has a line of order " + line.orderid;
        if (auto problem = id_problem(line.orderid)) corrupt("has a line whose order id " + *problem);
        if (line.sku != sku_) corrupt(of_order + " for another sku, " + line.sku);
        if (!quantity_in_range(line.qty)) corrupt(of_order + " whose qty " + quantity_range() + ": " + std::to_string(line.qty));
        if (line.qty > allocated_ - loaded_) corrupt("has lines of more than its allocated quantity " + std::to_string(allocated_));
        loaded_ += line.qty;
    }

    // Capacity for one more line is reserved by the caller, so this never throws.
    void add_line(OrderLine&& line) noexcept {
        allocated_ += line.qty;
        loaded_ += line.qty;
        lines_.push_back(std::move(line));
    }
    // How many of the newest lines no longer fit in `purchased`; all lines are loaded.
    std::size_t lines_over(Quantity purchased) const noexcept {
        Quantity allocated = allocated_;
        std::size_t count = 0;
        for (auto it = lines_.rbegin(); allocated > purchased; ++it, ++count) allocated -= it->qty;
        return count;
    }
    void drop_last_line() noexcept {
        allocated_ -= lines_.back().qty;
        loaded_ -= lines_.back().qty;
        lines_.pop_back();
    }
    // The newest line: only known when every line is loaded, which change_batch_quantity checks first.
    OrderLine pop_line() noexcept {
        OrderLine line = std::move(lines_.back());
        lines_.pop_back();
        allocated_ -= line.qty;
        loaded_ -= line.qty;
        return line;
    }

    std::string reference_;
    std::string sku_;
    std::optional<Date> eta_;
    Quantity purchased_;
    Quantity allocated_ = 0;
    Quantity loaded_ = 0;  // the quantity of the lines in lines_
    std::vector<OrderLine> lines_;
};

}  // namespace allocation
