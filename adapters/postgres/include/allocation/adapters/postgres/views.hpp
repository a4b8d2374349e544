// PostgreSQL allocations read model: one table, written by each unit of work's commit, read by queries.
#pragma once

#include <string>
#include <vector>

#include <pqxx/pqxx>

#include "allocation/adapters/postgres/database.hpp"
#include "allocation/adapters/postgres/statements.hpp"
#include "allocation/detail/stored_view.hpp"
#include "allocation/ports/views.hpp"

namespace allocation::postgres {

namespace detail {

/// The read model's statements, in whichever transaction `tx` is.
inline void view_add(pqxx::transaction_base& tx, const std::string& orderid, const std::string& sku,
                     const std::string& batchref) {
    run(tx, sql::view_add, orderid, sku, batchref);
}

inline void view_remove(pqxx::transaction_base& tx, const std::string& orderid, const std::string& sku) {
    run(tx, sql::view_remove, orderid, sku);
}

inline std::vector<ports::AllocationRow> view_rows(pqxx::transaction_base& tx, const std::string& orderid) {
    std::vector<ports::AllocationRow> rows;
    for (const auto& row : run(tx, sql::view_select, orderid)) {
        rows.push_back({row[0].as<std::string>(), row[1].as<std::string>()});
    }
    return rows;
}

}  // namespace detail

/// The stored read model, for queries: see allocation::detail::StoredAllocationsView.
using AllocationsView =
    allocation::detail::StoredAllocationsView<Database, detail::view_add, detail::view_remove, detail::view_rows>;

static_assert(ports::diagnose_allocations_view<AllocationsView>());

}  // namespace allocation::postgres
