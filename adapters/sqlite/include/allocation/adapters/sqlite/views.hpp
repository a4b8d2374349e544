// SQLite allocations read model: one table, written by each unit of work's commit, read by queries.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "allocation/adapters/sqlite/database.hpp"
#include "allocation/adapters/sqlite/statements.hpp"
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

/// The stored read model, for queries (and for tools that maintain it by hand). Each call takes a connection
/// nobody else is using for one statement (its own implicit transaction), so the view may be used from several
/// threads at once. The Database must outlive it. The bus itself writes the view through each unit of work,
/// in the same transaction as the products.
class AllocationsView {
public:
    explicit AllocationsView(Database& db) noexcept : db_(&db) {}

    void add(std::string_view orderid, std::string_view sku, std::string_view batchref) {
        run("adding to the allocations view", [&](detail::Statements& st) {
            detail::view_add(st, std::string(orderid), std::string(sku), std::string(batchref));
        });
    }

    void remove(std::string_view orderid, std::string_view sku) {
        run("removing from the allocations view",
            [&](detail::Statements& st) { detail::view_remove(st, std::string(orderid), std::string(sku)); });
    }

    std::vector<ports::AllocationRow> allocations(std::string_view orderid) const {
        std::vector<ports::AllocationRow> rows;
        run("reading the allocations view",
            [&](detail::Statements& st) { rows = detail::view_rows(st, std::string(orderid)); });
        return rows;
    }

private:
    template <typename Fn>
    void run(std::string_view doing, Fn&& fn) const {
        auto lease = db_->lease();
        try {
            fn(lease.statements());
        } catch (const SQLite::Exception& e) {
            throw StorageError(detail::describe(db_->options().path, doing, e.what()));
        }
    }

    Database* db_;
};

static_assert(ports::diagnose_allocations_view<AllocationsView>());

}  // namespace allocation::sqlite
