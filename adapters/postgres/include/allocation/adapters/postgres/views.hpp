// PostgreSQL allocations read model: one table, written by each unit of work's commit, read by queries.
#pragma once

#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <pqxx/pqxx>

#include "allocation/adapters/postgres/database.hpp"
#include "allocation/adapters/postgres/statements.hpp"
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

/// The stored read model, for queries (and for tools that maintain it by hand). Each call takes a connection
/// nobody else is using for one statement (its own transaction), so the view may be used from several threads at
/// once. The Database must outlive it. The bus itself writes the view through each unit of work, in the same
/// transaction as the products.
class AllocationsView {
public:
    explicit AllocationsView(Database& db) noexcept : db_(&db) {}

    void add(std::string_view orderid, std::string_view sku, std::string_view batchref) {
        run("adding to the allocations view", [&](pqxx::transaction_base& tx) {
            detail::view_add(tx, std::string(orderid), std::string(sku), std::string(batchref));
        });
    }

    void remove(std::string_view orderid, std::string_view sku) {
        run("removing from the allocations view", [&](pqxx::transaction_base& tx) {
            detail::view_remove(tx, std::string(orderid), std::string(sku));
        });
    }

    std::vector<ports::AllocationRow> allocations(std::string_view orderid) const {
        return run("reading the allocations view",
                   [&](pqxx::transaction_base& tx) { return detail::view_rows(tx, std::string(orderid)); });
    }

private:
    template <typename Fn>
    auto run(std::string_view doing, Fn&& fn) const -> std::invoke_result_t<Fn&, pqxx::transaction_base&> {
        return db_->one_statement(doing, fn);
    }

    Database* db_;
};

static_assert(ports::diagnose_allocations_view<AllocationsView>());

}  // namespace allocation::postgres
