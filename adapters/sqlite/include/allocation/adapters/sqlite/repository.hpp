// SQLite Repository: loads products with only the lines a lookup promises, and writes back only their changes.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "allocation/adapters/sqlite/errors.hpp"
#include "allocation/adapters/sqlite/pool.hpp"
#include "allocation/adapters/sqlite/product_cache.hpp"
#include "allocation/adapters/sqlite/product_writes.hpp"
#include "allocation/detail/loaded_products.hpp"
#include "allocation/detail/sql_repository.hpp"
#include "allocation/adapters/sqlite/statements.hpp"
#include "allocation/adapters/sqlite/transaction.hpp"
#include "allocation/domain/errors.hpp"
#include "allocation/domain/events.hpp"
#include "allocation/domain/rules.hpp"
#include "allocation/domain/model.hpp"
#include "allocation/ports/repository.hpp"

namespace allocation::sqlite {

namespace detail {

/// The products' tables of one unit of work's connection, for allocation::detail::SqlRepository.
/// Each lookup reads from one consistent snapshot, without holding the write lock; two lookups of one unit of
/// work may see different moments. That is enough, because only a changed product is written, and its commit
/// is a compare-and-set on the version that the lookup read together with everything else it loaded: see read().
class ProductTables : public allocation::detail::SqlTables<Lease> {
public:
    using SqlTables::SqlTables;
    using BatchRow = allocation::detail::BatchRow;
    using Loaded = allocation::detail::ProductRows;

private:
    friend class allocation::detail::LoadedProducts<ProductTables>;

    template <typename Fn>
    auto guarded(std::string_view doing, Fn&& fn) -> std::invoke_result_t<Fn&> {
        try {
            return fn();
        } catch (const SQLite::Exception& e) {
            throw StorageError(detail::describe(where(), doing, e.what()));
        }
    }

    detail::Statements& statements() const noexcept { return lease().statements(); }

    // A batch's SKU never changes and batches are never deleted, so this may come from an earlier moment than
    // the product read that follows it.
    std::optional<std::string> sku_of(std::string_view reference_view) {
        return guarded("reading a batch", [&]() -> std::optional<std::string> {
            const std::string reference(reference_view);
            detail::Use query(statements().select_batch_sku);
            detail::bind_text(statements().select_batch_sku, 1, reference);
            if (!query->executeStep()) return std::nullopt;
            return query->getColumn(0).getString();
        });
    }

    // Whether a cached product is still exactly the stored one: the same version, which every change moves up.
    // For an order's lookup, the order must have no stored line of the SKU either, since a cached product holds
    // only some lines; the rare lookup of an order that has one reads the product afresh with that line.
    // `entry.orders` holds the order of the lookup, if any.
    bool still_stored(const Entry& entry) {
        return guarded("reading a product", [&] {
            const bool for_order = !entry.orders.empty();
            using C = detail::VersionAndOrderQuery;  // select_version reads its first column only
            auto& query = for_order ? statements().select_version_and_order : statements().select_version;
            detail::Use use(query);
            detail::bind_text(query, 1, entry.product.sku());
            if (for_order) detail::bind_text(query, 2, entry.orders.back());
            if (!query.executeStep()) return false;
            return query.getColumn(C::version).getInt64() == entry.product.loaded_version() &&
                   (!for_order || query.getColumn(C::order_has_line).getInt() == 0);
        });
    }

    // Why reads need no transaction of their own (the write lock is only taken by commit):
    // - Everything one lookup loads (version, batches, lines) comes from one snapshot: the usual lookups are a
    //   single statement (an implicit read transaction), the rarer ones with several statements run them
    //   inside BEGIN ... COMMIT. So a loaded product is always a state that existed, with its version.
    // - Every change to a product's batches or lines goes through a commit that moves its version up
    //   (versions only grow; products are never deleted), and commit writes a changed product only if the stored
    //   version is still the one its lookup read. If anything of the product changed after the lookup, that
    //   compare-and-set fails, ConcurrencyError is thrown, nothing is written, and the bus retries.
    // - A product that is not changed is not written, exactly as before: its lookup was already a snapshot that
    //   could be outdated by the time of commit. Several lookups of one unit of work may read different moments;
    //   the aggregate is the consistency boundary, so each changed product is checked on its own.
    std::unique_ptr<Entry> read(std::string_view sku_view, std::vector<std::string> orders,
                                std::vector<std::string> full_batches) {
        const std::string sku(sku_view);
        Loaded loaded;
        guarded("reading a product", [&] {
            if (full_batches.empty() && orders.size() <= 1) {
                read_in_one_statement(sku, orders, loaded);
            } else {
                read_in_one_transaction(sku, orders, full_batches, loaded);
            }
        });
        if (!loaded.found) return nullptr;
        return allocation::detail::build(sku, loaded, std::move(orders), std::move(full_batches));
    }

    static BatchRow* row_with_id(std::vector<BatchRow>& rows, std::int64_t id) noexcept {
        for (BatchRow& row : rows) {
            if (row.id == id) return &row;
        }
        return nullptr;
    }

    // The usual lookups, of a product with the lines of at most one order: one statement, hence one snapshot,
    // and no BEGIN/COMMIT of our own.
    void read_in_one_statement(const std::string& sku, const std::vector<std::string>& orders, Loaded& loaded) {
        using C = detail::ProductAndOrderQuery;
        auto& st = statements();
        auto& query = orders.empty() ? st.select_product : st.select_product_and_order;
        struct LineRow {
            std::int64_t batch_id;
            std::int64_t allocation_id;
            Quantity qty;
        };
        std::vector<LineRow> lines;  // kept until every batch is read: rows come in no particular order
        detail::Use use(query);
        detail::bind_text(query, 1, sku);
        if (!orders.empty()) detail::bind_text(query, 2, orders.front());
        while (query.executeStep()) {
            if (!query.isColumnNull(detail::ProductQuery::version) || query.isColumnNull(C::line_batch_id)) {
                read_product_row(query, sku, loaded);
            } else {
                lines.push_back({query.getColumn(C::line_batch_id).getInt64(),
                                 query.getColumn(C::line_allocation_id).getInt64(), query.getColumn(C::line_qty).getInt()});
            }
        }
        sort_batches(loaded);
        for (const LineRow& line : lines) {
            if (BatchRow* row = row_with_id(loaded.rows, line.batch_id)) {
                row->lines.emplace_back(line.allocation_id, OrderLine{orders.front(), sku, line.qty});
            }
        }
    }

    // The rarer lookups, with several orders or whole batches: several statements, made one snapshot by one
    // explicit read transaction.
    void read_in_one_transaction(const std::string& sku, const std::vector<std::string>& orders,
                                 const std::vector<std::string>& full_batches, Loaded& loaded) {
        auto& st = statements();
        detail::Transaction snapshot(lease().connection().db, st.begin_read, st.commit);
        {
            detail::Use use(st.select_product);
            detail::bind_text(st.select_product, 1, sku);
            while (st.select_product.executeStep()) read_product_row(st.select_product, sku, loaded);
        }
        sort_batches(loaded);
        for (const std::string& orderid : orders) read_order_lines(sku, orderid, loaded.rows);
        for (const std::string& reference : full_batches) read_batch_lines(sku, reference, loaded.rows);
        snapshot.commit();
    }

    static void sort_batches(Loaded& loaded) {
        std::sort(loaded.rows.begin(), loaded.rows.end(), [](const BatchRow& a, const BatchRow& b) { return a.id < b.id; });
    }

    // One row of ProductQuery (or a product or waiting row of ProductAndOrderQuery, which have the same columns).
    void read_product_row(SQLite::Statement& query, const std::string& sku, Loaded& loaded) {
        using C = detail::ProductQuery;
        if (query.isColumnNull(C::version)) {
            loaded.waiting.emplace_back(query.getColumn(C::waiting_id).getInt64(),
                                        OrderLine{query.getColumn(C::waiting_orderid).getString(), sku,
                                                  query.getColumn(C::waiting_qty).getInt()});
            return;
        }
        loaded.found = true;
        loaded.version = query.getColumn(C::version).getInt64();
        if (query.isColumnNull(C::batch_id)) return;  // no batches
        std::optional<Date> eta;
        if (!query.isColumnNull(C::eta)) {
            eta = allocation::parse_date(query.getColumn(C::eta).getString());
            if (!eta) {
                throw StorageError(
                    detail::describe(where(), "reading a batch", "invalid eta " + query.getColumn(C::eta).getString()));
            }
        }
        loaded.rows.push_back(BatchRow{query.getColumn(C::batch_id).getInt64(), query.getColumn(C::reference).getString(),
                                       query.getColumn(C::purchased).getInt(), eta, query.getColumn(C::allocated).getInt(),
                                       {}});
    }

    void read_order_lines(const std::string& sku, const std::string& orderid, std::vector<BatchRow>& rows) {
        using C = detail::OrderLinesQuery;
        auto& query = statements().select_order_lines;
        detail::Use use(query);
        detail::bind_text(query, 1, sku);
        detail::bind_text(query, 2, orderid);
        while (query.executeStep()) {
            if (BatchRow* row = row_with_id(rows, query.getColumn(C::batch_id).getInt64())) {
                row->lines.emplace_back(query.getColumn(C::allocation_id).getInt64(),
                                        OrderLine{orderid, sku, query.getColumn(C::qty).getInt()});
            }
        }
    }

    void read_batch_lines(const std::string& sku, const std::string& reference, std::vector<BatchRow>& rows) {
        using C = detail::BatchLinesQuery;
        auto row = std::find_if(rows.begin(), rows.end(), [&](const BatchRow& r) { return r.reference == reference; });
        if (row == rows.end()) return;
        auto& query = statements().select_batch_lines;
        detail::Use use(query);
        query.bind(1, row->id);
        while (query.executeStep()) {
            row->lines.emplace_back(query.getColumn(C::allocation_id).getInt64(),
                                    OrderLine{query.getColumn(C::orderid).getString(), sku, query.getColumn(C::qty).getInt()});
        }
    }

public:
    // Writes exactly what the product's change record says (allocation::detail::write_changes), inside the unit
    // of work's write transaction.
    void write(Entry& entry) { write_changes_with(detail::ProductWrites{lease(), where()}, entry); }
};

}  // namespace detail

/// The Repository port over the adapter's tables: see allocation::detail::SqlRepository for the lookups' rules.
using Repository = allocation::detail::SqlRepository<detail::ProductTables>;

static_assert(ports::diagnose_repository<Repository>());

}  // namespace allocation::sqlite
