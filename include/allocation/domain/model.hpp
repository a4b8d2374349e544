// The stock-allocation domain model: order lines, batches and the Product aggregate.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "allocation/detail/flat_map.hpp"
#include "allocation/domain/errors.hpp"
#include "allocation/domain/events.hpp"

namespace allocation {

using Date = std::chrono::year_month_day;
using Quantity = int;

/// The largest quantity a line or a batch may carry. Anything above is treated as a typo.
inline constexpr Quantity max_quantity = 1'000'000'000;

/// Throws InvalidQuantity unless 1 <= qty <= max_quantity; `field` names the input in the message.
inline void check_quantity(Quantity qty, std::string_view field = "qty") {
    if (qty < 1 || qty > max_quantity) {
        throw InvalidQuantity(std::string(field) + " must be between 1 and " + std::to_string(max_quantity) +
                              ", got " + std::to_string(qty));
    }
}

/// The longest id (order id, SKU, batch reference) that the entry points accept.
inline constexpr std::size_t max_id_length = 255;

/// What is wrong with `text` as an id (order id, SKU, batch reference), phrased to follow the field's name
/// ("must not be empty"), or nothing when it is fine. Ids are 1 to max_id_length bytes without control
/// characters, so that every id can be looked up by URL and written to a log line safely.
inline std::optional<std::string> id_problem(std::string_view text) {
    if (text.empty()) return "must not be empty";
    if (text.size() > max_id_length) return "must be at most " + std::to_string(max_id_length) + " bytes long";
    for (unsigned char c : text) {
        if (c < 0x20 || c == 0x7F) return "must not contain control characters";
    }
    return std::nullopt;
}

/// A customer's request for `qty` units of `sku`, part of order `orderid`. A value. An order has at most one
/// line per SKU, so the read model's (orderid, sku) rows and Deallocated's (orderid, sku) name exactly one line.
struct OrderLine {
    std::string orderid;
    std::string sku;
    Quantity qty = 0;
    friend auto operator<=>(const OrderLine&, const OrderLine&) = default;
};

/// Hashes every field of an order line, for sets and maps of lines.
struct OrderLineHash {
    std::size_t operator()(const OrderLine& line) const noexcept {
        std::size_t h = std::hash<std::string_view>{}(line.orderid);
        h ^= std::hash<std::string_view>{}(line.sku) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
        h ^= std::hash<Quantity>{}(line.qty) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
        return h;
    }
};

namespace detail {
/// A product's lines all share its SKU and an order has one line per SKU, so the index keys lines by order id.
struct LineKey {
    std::string orderid;
    LineKey() = default;
    explicit LineKey(const OrderLine& line) : orderid(line.orderid) {}
    friend bool operator==(const LineKey&, const LineKey&) = default;
};
/// Hashes a LineKey, or an OrderLine as its key, so that the index is searched without copying the order id.
struct LineKeyHash {
    std::size_t operator()(const LineKey& key) const noexcept { return std::hash<std::string_view>{}(key.orderid); }
    std::size_t operator()(const OrderLine& line) const noexcept { return std::hash<std::string_view>{}(line.orderid); }
};
struct LineKeyEqual {
    bool operator()(const LineKey& a, const LineKey& b) const noexcept { return a == b; }
    bool operator()(const LineKey& key, const OrderLine& line) const noexcept { return key.orderid == line.orderid; }
};
/// Where an allocated line sits, and its quantity (which, with the order id and the product's SKU, makes the line).
struct LineSlot {
    std::uint32_t slot;
    Quantity qty;
};
}  // namespace detail

class Product;

/// Stock of one SKU with a unique reference; in the warehouse when it has no eta, a shipment otherwise.
/// An entity: two batches are the same batch when their references are equal.
/// Batches change only through their Product, which keeps the aggregate's rules.
class Batch {
public:
    Batch(std::string reference, std::string sku, Quantity purchased_quantity, std::optional<Date> eta = {})
        : reference_(std::move(reference)), sku_(std::move(sku)), eta_(eta), purchased_(purchased_quantity) {
        check_quantity(purchased_, "qty");
    }

    /// Rebuilds a stored batch. `lines` may be a subset of its allocations (an adapter that loads lazily);
    /// `allocated_quantity` is always the total, so availability stays exact.
    Batch(std::string reference, std::string sku, Quantity purchased_quantity, std::optional<Date> eta,
          std::vector<OrderLine> lines, Quantity allocated_quantity)
        : reference_(std::move(reference)), sku_(std::move(sku)), eta_(eta), purchased_(purchased_quantity),
          allocated_(allocated_quantity), lines_(std::move(lines)) {
        for (const OrderLine& line : lines_) loaded_ += line.qty;
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

    void add_line(const OrderLine& line) {
        lines_.push_back(line);
        allocated_ += line.qty;
        loaded_ += line.qty;
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

/// What happened to a product since it was loaded (or last committed). Adapters write exactly these on
/// commit; the in-memory adapter undoes exactly these on rollback.
namespace changes {
struct BatchAdded {
    std::uint32_t slot;
};
struct LineAllocated {
    std::uint32_t slot;
    OrderLine line;
};
struct LineDeallocated {
    std::uint32_t slot;
    OrderLine line;
};
struct QuantityChanged {
    std::uint32_t slot;
    Quantity previous;
};
using Change = std::variant<BatchAdded, LineAllocated, LineDeallocated, QuantityChanged>;
}  // namespace changes

/// The aggregate: every batch of one SKU. All changes to batches go through it; each change bumps
/// `version_number`, which adapters use for optimistic concurrency.
class Product {
public:
    explicit Product(std::string sku, std::vector<Batch> batches = {}, std::int64_t version_number = 0)
        : sku_(std::move(sku)), batches_(std::move(batches)), version_(version_number), loaded_version_(version_number) {
        order_.reserve(batches_.size());
        for (std::uint32_t slot = 0; slot < batches_.size(); ++slot) {
            if (batches_[slot].sku() != sku_) throw InvalidSku(batches_[slot].sku());
            insert_in_order(slot);
            for (const OrderLine& line : batches_[slot].lines_) index_.try_emplace(line, detail::LineSlot{slot, line.qty});
        }
    }

    const std::string& sku() const noexcept { return sku_; }
    std::int64_t version_number() const noexcept { return version_; }
    /// Batches in the order they were added.
    std::span<const Batch> batches() const noexcept { return batches_; }
    const Batch* batch(std::string_view reference) const noexcept {
        auto slot = find_slot(reference);
        return slot ? &batches_[*slot] : nullptr;
    }

    /// Adds a new batch of this product's SKU, with nothing allocated yet (lines are allocated through the
    /// product). Throws DuplicateBatch if the reference is taken here.
    void add_batch(Batch batch) {
        if (batch.sku() != sku_) throw InvalidSku(batch.sku());
        if (batch.allocated_quantity() != 0) {
            throw std::invalid_argument("batch " + batch.reference() +
                                        " already has allocations; add_batch takes a new batch");
        }
        if (find_slot(batch.reference())) throw DuplicateBatch(batch.reference());
        auto slot = static_cast<std::uint32_t>(batches_.size());
        batches_.push_back(std::move(batch));
        insert_in_order(slot);
        changes_.emplace_back(changes::BatchAdded{slot});
        ++version_;
    }

    /// Allocates the line to the preferred batch that can take it (warehouse first, then earliest eta)
    /// and returns that batch's reference. A line already allocated stays where it is and nothing
    /// changes; another quantity for an order that already has a line of this SKU throws DuplicateLine.
    /// When no batch can take it, raises OutOfStock and returns nothing.
    std::optional<std::string> allocate(const OrderLine& line) {
        if (line.sku != sku_) throw InvalidSku(line.sku);
        check_quantity(line.qty);
        // One hash lookup both asks whether the order has a line here and reserves its entry if it has not.
        auto [entry, is_new] = index_.try_emplace(line, detail::LineSlot{no_slot, line.qty});
        if (!is_new) {
            if (entry->qty != line.qty) throw DuplicateLine(line.orderid, line.sku, entry->qty);
            return batches_[entry->slot].reference();
        }
        for (std::uint32_t slot : order_) {
            Batch& batch = batches_[slot];
            if (batch.available_quantity() < line.qty) continue;  // the SKU was checked above, once
            entry->slot = slot;
            batch.add_line(line);
            changes_.emplace_back(changes::LineAllocated{slot, line});
            ++version_;
            events_.emplace_back(events::Allocated{line.orderid, line.sku, line.qty, batch.reference()});
            return batch.reference();
        }
        index_.erase(line);
        events_.emplace_back(events::OutOfStock{sku_});
        return std::nullopt;
    }

    /// Sets the purchased quantity of a batch; while it is over-allocated, its most recent lines are
    /// deallocated, each raising Deallocated so that it can be allocated again elsewhere.
    void change_batch_quantity(std::string_view reference, Quantity qty) {
        auto slot = find_slot(reference);
        if (!slot) throw UnknownBatch(reference);
        check_quantity(qty);
        Batch& batch = batches_[*slot];
        if (qty < batch.allocated_ && !batch.all_lines_loaded()) {  // before anything changes
            throw std::logic_error("the lines of batch " + batch.reference_ + " were not all loaded, cannot deallocate");
        }
        changes_.emplace_back(changes::QuantityChanged{*slot, batch.purchased_});
        batch.purchased_ = qty;
        ++version_;
        while (batch.available_quantity() < 0) {
            OrderLine line = batch.pop_line();
            index_.erase(line);
            events_.emplace_back(events::Deallocated{line.orderid, line.sku, line.qty});
            changes_.emplace_back(changes::LineDeallocated{*slot, std::move(line)});
        }
    }

    /// The reference of the batch holding `line`, if it is allocated (and loaded).
    const std::string* batch_of(const OrderLine& line) const {
        const detail::LineSlot* entry = index_.find(line);
        return entry == nullptr || entry->qty != line.qty ? nullptr : &batches_[entry->slot].reference();
    }

    /// Events raised since the last commit, oldest first.
    std::span<const events::Event> events() const noexcept { return events_; }
    /// Changes since the product was loaded or last committed, oldest first.
    std::span<const changes::Change> changes() const noexcept { return changes_; }
    /// The version the product had when it was loaded or last committed.
    std::int64_t loaded_version() const noexcept { return loaded_version_; }
    bool changed() const noexcept { return !changes_.empty(); }

    /// Accepts the changes as stored: hands the raised events over (appended to `out`) and starts a
    /// new change record from the current state.
    void mark_committed(std::vector<events::Event>& out) {
        out.insert(out.end(), std::make_move_iterator(events_.begin()), std::make_move_iterator(events_.end()));
        events_.clear();
        changes_.clear();
        loaded_version_ = version_;
    }

    /// Undoes every change since the product was loaded or last committed, newest first, and drops the
    /// events raised meanwhile. Restores exactly the earlier state without any snapshot.
    void discard_changes() noexcept {
        for (auto it = changes_.rbegin(); it != changes_.rend(); ++it) {
            std::visit([this](auto& change) { undo(change); }, *it);
        }
        changes_.clear();
        events_.clear();
        version_ = loaded_version_;
    }

private:
    std::optional<std::uint32_t> find_slot(std::string_view reference) const noexcept {
        for (std::uint32_t slot = 0; slot < batches_.size(); ++slot) {
            if (batches_[slot].reference() == reference) return slot;
        }
        return std::nullopt;
    }

    // Warehouse stock (no eta) sorts before any shipment because an empty optional is the smallest;
    // equal etas keep the order in which batches were added.
    void insert_in_order(std::uint32_t slot) {
        auto pos = std::upper_bound(order_.begin(), order_.end(), slot, [this](std::uint32_t a, std::uint32_t b) {
            return batches_[a].eta() < batches_[b].eta();
        });
        order_.insert(pos, slot);
    }

    void undo(changes::BatchAdded& c) noexcept {
        order_.erase(std::find(order_.begin(), order_.end(), c.slot));
        batches_.pop_back();
    }
    void undo(changes::LineAllocated& c) noexcept {
        index_.erase(c.line);
        batches_[c.slot].drop_last_line();
    }
    void undo(changes::LineDeallocated& c) noexcept {
        // The line was popped from the back, and everything after it is already undone.
        index_.try_emplace(c.line, detail::LineSlot{c.slot, c.line.qty});
        batches_[c.slot].add_line(c.line);
    }
    void undo(changes::QuantityChanged& c) noexcept { batches_[c.slot].purchased_ = c.previous; }

    static constexpr std::uint32_t no_slot = UINT32_MAX;

    std::string sku_;
    std::vector<Batch> batches_;                // slot = position of addition; never reordered
    std::vector<std::uint32_t> order_;          // slots in allocation preference
    detail::FlatMap<detail::LineKey, detail::LineSlot, detail::LineKeyHash, detail::LineKeyEqual> index_;  // line -> slot
    std::int64_t version_;
    std::int64_t loaded_version_;
    std::vector<events::Event> events_;
    std::vector<changes::Change> changes_;
};

}  // namespace allocation
