// SQLite allocations read model: one table, kept up to date by the bus's event handlers.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "allocation/adapters/sqlite/database.hpp"
#include "allocation/ports/views.hpp"

namespace allocation::sqlite {

/// Each call takes a connection nobody else is using for one statement (its own implicit transaction), so the
/// view may be used from several threads at once. The Database must outlive it.
class AllocationsView {
public:
    explicit AllocationsView(Database& db) noexcept : db_(&db) {}

    void add(std::string_view orderid_view, std::string_view sku_view, std::string_view batchref_view) {
        const std::string orderid(orderid_view), sku(sku_view), batchref(batchref_view);
        run("adding to the allocations view", [&](detail::Statements& st) {
            detail::Use query(st.view_add);
            detail::bind_text(st.view_add, 1, orderid);
            detail::bind_text(st.view_add, 2, sku);
            detail::bind_text(st.view_add, 3, batchref);
            query->exec();
        });
    }

    void remove(std::string_view orderid_view, std::string_view sku_view) {
        const std::string orderid(orderid_view), sku(sku_view);
        run("removing from the allocations view", [&](detail::Statements& st) {
            detail::Use query(st.view_remove);
            detail::bind_text(st.view_remove, 1, orderid);
            detail::bind_text(st.view_remove, 2, sku);
            query->exec();
        });
    }

    std::vector<ports::AllocationRow> allocations(std::string_view orderid_view) const {
        const std::string orderid(orderid_view);
        std::vector<ports::AllocationRow> rows;
        run("reading the allocations view", [&](detail::Statements& st) {
            detail::Use query(st.view_select);
            detail::bind_text(st.view_select, 1, orderid);
            while (query->executeStep()) {
                rows.push_back({query->getColumn(0).getString(), query->getColumn(1).getString()});
            }
        });
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

static_assert(ports::AllocationsView<AllocationsView>);

}  // namespace allocation::sqlite
