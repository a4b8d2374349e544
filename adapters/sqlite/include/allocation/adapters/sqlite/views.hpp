// SQLite allocations read model: one table, written by each unit of work's commit, read by queries.
#pragma once

#include <string>
#include <vector>

#include "allocation/adapters/sqlite/database.hpp"
#include "allocation/adapters/sqlite/statements.hpp"
#include "allocation/detail/stored_view.hpp"
#include "allocation/ports/views.hpp"

namespace allocation::sqlite {

namespace detail {

/// The read model's statements, on whichever connection (and transaction) `st` belongs to. Text is bound
/// without a copy: it must outlive the call, as it does here.
inline void view_add(Statements& st, const std::string& orderid, const std::string& sku, const std::string& batchref) {
    Use query(st.view_add);
    bind_text(st.view_add, 1, orderid);
    bind_text(st.view_add, 2, sku);
    bind_text(st.view_add, 3, batchref);
    query->exec();
}

inline void view_remove(Statements& st, const std::string& orderid, const std::string& sku) {
    Use query(st.view_remove);
    bind_text(st.view_remove, 1, orderid);
    bind_text(st.view_remove, 2, sku);
    query->exec();
}

inline std::vector<ports::AllocationRow> view_rows(Statements& st, const std::string& orderid) {
    std::vector<ports::AllocationRow> rows;
    Use query(st.view_select);
    bind_text(st.view_select, 1, orderid);
    while (query->executeStep()) {
        rows.push_back({query->getColumn(ViewQuery::sku).getString(), query->getColumn(ViewQuery::batchref).getString()});
    }
    return rows;
}

}  // namespace detail

/// The stored read model, for queries: see allocation::detail::StoredAllocationsView.
using AllocationsView =
    allocation::detail::StoredAllocationsView<Database, detail::view_add, detail::view_remove, detail::view_rows>;

static_assert(ports::diagnose_allocations_view<AllocationsView>());

}  // namespace allocation::sqlite
