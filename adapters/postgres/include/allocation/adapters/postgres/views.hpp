// PostgreSQL allocations read model: one table, written by each unit of work's commit, read by queries.
#pragma once

#include <string>
#include <string_view>
#include <type_traits>
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

/// The read model's statements in one transaction, for allocation::detail::StoredAllocationsView.
struct ViewRows {
    pqxx::transaction_base* tx;
    void add(const std::string& orderid, const std::string& sku, const std::string& batchref) {
        view_add(*tx, orderid, sku, batchref);
    }
    void remove(const std::string& orderid, const std::string& sku) { view_remove(*tx, orderid, sku); }
    std::vector<ports::AllocationRow> allocations(const std::string& orderid) const { return view_rows(*tx, orderid); }
};

/// Runs the view's statements on a connection nobody else is using, each its own transaction.
struct ViewAccess {
    using Database = postgres::Database;
    Database* db;

    template <typename Fn>
    auto run(std::string_view doing, Fn&& fn) const -> std::invoke_result_t<Fn&, ViewRows&> {
        return db->one_statement(doing, [&](pqxx::transaction_base& tx) -> std::invoke_result_t<Fn&, ViewRows&> {
            ViewRows rows{&tx};
            return fn(rows);
        });
    }
};

}  // namespace detail

/// The stored read model, for queries: see allocation::detail::StoredAllocationsView.
using AllocationsView = allocation::detail::StoredAllocationsView<detail::ViewAccess>;

static_assert(ports::diagnose_allocations_view<AllocationsView>());

}  // namespace allocation::postgres
