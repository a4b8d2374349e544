// The read-model changes of one unit of work, kept until it commits: a building block for adapters.
#pragma once

#include <algorithm>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "allocation/ports/views.hpp"

namespace allocation {

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

private:
    Committed committed_;
    Changes changes_;
};

}  // namespace allocation
