// The read model's rule (which event changes which row) and the changes of one unit of work until it commits:
// building blocks for adapters.
#pragma once

#include <algorithm>
#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "allocation/domain/events.hpp"
#include "allocation/domain/model.hpp"
#include "allocation/ports/views.hpp"

namespace allocation {

/// The read model's one rule, applied on every path (each adapter's commit, the bus's handlers of events from
/// outside): an Allocated line gets its row, a Deallocated one loses it until it is allocated again; the other
/// events do not touch the view. `view` is anything with the view's add and remove.
template <typename View>
void project(const events::Event& event, View& view) {
    if (const auto* allocated = std::get_if<events::Allocated>(&event)) {
        view.add(allocated->orderid, allocated->sku, allocated->batchref);
    } else if (const auto* deallocated = std::get_if<events::Deallocated>(&event)) {
        view.remove(deallocated->orderid, deallocated->sku);
    }
}

/// Projects the events that `products` raised since their last commit, product by product, oldest first: what
/// a unit of work's commit stores in the read model together with the products, before `mark_committed` hands
/// the events over.
template <typename View>
void project_events(std::span<Product* const> products, View& view) {
    for (const Product* product : products) {
        for (const events::Event& event : product->events()) project(event, view);
    }
}

/// Records `add` and `remove` calls in order, to be applied to the stored read model in the same transaction
/// as the unit of work's other changes, or forgotten on rollback.
class ViewChanges {
public:
    struct Change {
        bool is_add;
        std::string orderid;
        std::string sku;
        std::string batchref;  // empty for a removal
    };

    void add(std::string_view orderid, std::string_view sku, std::string_view batchref) {
        changes_.push_back({true, std::string(orderid), std::string(sku), std::string(batchref)});
    }
    void remove(std::string_view orderid, std::string_view sku) {
        changes_.push_back({false, std::string(orderid), std::string(sku), {}});
    }

    std::span<const Change> pending() const noexcept { return changes_; }
    bool empty() const noexcept { return changes_.empty(); }
    void clear() noexcept { changes_.clear(); }
    /// How many changes are pending; forget_after(n) forgets those after the first n (a savepoint's).
    std::size_t size() const noexcept { return changes_.size(); }
    void forget_after(std::size_t count) noexcept {
        changes_.erase(changes_.begin() + static_cast<std::ptrdiff_t>(count), changes_.end());
    }

    /// Applies the pending changes to `view`, oldest first.
    template <ports::AllocationsView V>
    void apply_to(V& view) const {
        for (const Change& c : changes_) {
            if (c.is_add) {
                view.add(c.orderid, c.sku, c.batchref);
            } else {
                view.remove(c.orderid, c.sku);
            }
        }
    }

    /// An order's stored rows as they will be once the pending changes are applied.
    std::vector<ports::AllocationRow> overlay(std::string_view orderid, std::vector<ports::AllocationRow> rows) const {
        for (const Change& c : changes_) {
            if (c.orderid != orderid) continue;
            auto row = std::find_if(rows.begin(), rows.end(), [&](const auto& r) { return r.sku == c.sku; });
            if (!c.is_add) {
                if (row != rows.end()) rows.erase(row);
            } else if (row == rows.end()) {
                rows.push_back({c.sku, c.batchref});
            } else {
                row->batchref = c.batchref;
            }
        }
        return rows;
    }

private:
    std::vector<Change> changes_;
};

/// The read model as a unit of work sees it: the stored rows of `Committed` (anything with a const
/// `allocations(orderid)`), plus this unit of work's pending changes, which its adapter stores on commit.
/// `Changes` is ViewChanges, or a reference to one that the adapter reuses from one unit of work to the next.
template <typename Committed, typename Changes = ViewChanges>
class PendingAllocationsView {
public:
    explicit PendingAllocationsView(Committed committed, Changes changes = {})
        : committed_(std::forward<Committed>(committed)), changes_(std::forward<Changes>(changes)) {}

    void add(std::string_view orderid, std::string_view sku, std::string_view batchref) {
        changes_.add(orderid, sku, batchref);
    }
    void remove(std::string_view orderid, std::string_view sku) { changes_.remove(orderid, sku); }
    std::vector<ports::AllocationRow> allocations(std::string_view orderid) const {
        return changes_.overlay(orderid, committed_.allocations(orderid));
    }

    ViewChanges& changes() noexcept { return changes_; }
    const ViewChanges& changes() const noexcept { return changes_; }

private:
    Committed committed_;
    Changes changes_;
};

}  // namespace allocation
