// PostgreSQL Repository: loads products with only the lines a lookup promises, in one statement that locks the
// product's row, and writes back only their changes.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include <pqxx/pqxx>

#include "allocation/adapters/postgres/errors.hpp"
#include "allocation/adapters/postgres/pool.hpp"
#include "allocation/adapters/postgres/statements.hpp"
#include "allocation/adapters/postgres/product_writes.hpp"
#include "allocation/detail/loaded_products.hpp"
#include "allocation/detail/sql_repository.hpp"
#include "allocation/domain/errors.hpp"
#include "allocation/domain/events.hpp"
#include "allocation/domain/rules.hpp"
#include "allocation/domain/model.hpp"
#include "allocation/ports/repository.hpp"

namespace allocation::postgres {

namespace detail {

/// The products' tables of one unit of work's connection, for allocation::detail::SqlRepository.
///
/// Every read runs in the unit of work's transaction (Lease::in_transaction), which its first read begins, and
/// every way of getting a product locks the product's row (SELECT ... FOR UPDATE) until the transaction ends: a
/// lookup, the check of a product kept by the connection's cache, a lookup by batch reference. Another unit of
/// work that wants the same product waits for that commit or rollback and then reads what it left, so units of
/// work on one product queue instead of racing. A product's read is one statement (detail::ProductQuery), by
/// indexes only; when it had to wait for the lock it runs once more, as its rows are older than the lock.
///
/// The commit's compare-and-set on the version stays, as the safety net of whatever writes a product without its
/// lock. A product that is not stored yet has no row to lock: two units of work creating the same product both
/// find none, and the second commit is refused (ConcurrencyError). A unit of work that looks up several products
/// locks them in the order it looks them up; two doing so in opposite orders deadlock, and PostgreSQL aborts one
/// of them (ConcurrencyError). The handlers look up one product per command.
class ProductTables : public allocation::detail::SqlTables<Lease> {
public:
    using SqlTables::SqlTables;

private:
    friend class allocation::detail::LoadedProducts<ProductTables>;

    /// A lookup's rows, and the version of the row it locked.
    struct LockedRows {
        allocation::detail::ProductRows loaded;
        std::optional<std::int64_t> locked;
        /// Whether the rows are those of the locked version (none: no product, nothing locked).
        bool current() const noexcept { return loaded.found ? locked == loaded.version : !locked; }
    };

    template <typename Fn>
    decltype(auto) in_transaction(std::string_view doing, Fn&& fn) {
        return lease().in_transaction(where(), doing, std::forward<Fn>(fn));
    }

    // --- reading, for LoadedProducts ------------------------------------------------------------------

    // A batch's SKU never changes and batches are never deleted: the product's lookup that follows locks it.
    std::optional<std::string> sku_of(std::string_view reference) {
        return in_transaction("reading a batch", [&](pqxx::transaction_base& tx) -> std::optional<std::string> {
            const auto rows = detail::run(tx, detail::sql::select_batch_sku, std::string(reference));
            if (rows.empty()) return std::nullopt;
            return rows[0][0].as<std::string>();
        });
    }

    // Whether a cached product is still exactly the stored one: the same version, which every change moves up, as
    // the locked row has it. For an order's lookup, the order must have no stored line of the SKU either, since a
    // cached product holds only some lines; the rare lookup of an order that has one reads the product afresh with
    // that line.
    bool still_stored(const Entry& entry) {
        return in_transaction("reading a product's version", [&](pqxx::transaction_base& tx) {
            const bool for_order = !entry.orders.empty();
            const auto rows = for_order ? detail::run(tx, detail::sql::select_version_and_order, entry.product.sku(),
                                                      entry.orders.back())
                                        : detail::run(tx, detail::sql::select_version, entry.product.sku());
            return !rows.empty() && rows[0][0].as<std::int64_t>() == entry.product.loaded_version() &&
                   (!for_order || !rows[0][1].as<bool>());
        });
    }

    std::unique_ptr<Entry> read(std::string_view sku_view, std::vector<std::string> orders,
                                std::vector<std::string> full_batches) {
        const std::string sku(sku_view);
        const std::string order_array = detail::text_array(orders);
        auto loaded = in_transaction("reading a product", [&](pqxx::transaction_base& tx) {
            auto select = [&] {
                if (full_batches.empty()) return detail::run(tx, detail::sql::select_product, sku, order_array);
                return detail::run(tx, detail::sql::select_product_batches, sku, order_array,
                                   detail::text_array(full_batches));
            };
            LockedRows rows = parse(sku, select());
            // Rows older than the lock: read again, the lock held, from a snapshot that has what it waited for.
            if (!rows.current()) rows = parse(sku, select());
            if (!rows.current()) {
                throw StorageError(detail::describe(where(), "reading product " + sku,
                                                    "its row changed while it was locked"));
            }
            return std::move(rows.loaded);
        });
        if (!loaded.found) return nullptr;
        return allocation::detail::build(sku, loaded, std::move(orders), std::move(full_batches));
    }

    LockedRows parse(const std::string& sku, const pqxx::result& result) const {
        using Q = detail::ProductQuery;
        LockedRows locked_rows;
        allocation::detail::ProductRows& loaded = locked_rows.loaded;
        std::vector<std::tuple<std::int64_t, std::int64_t, OrderLine>> lines;  // (batch id, line id, line)
        for (const auto& row : result) {
            const int kind = row[Q::kind].as<int>();
            if (kind == Q::locked_version) {
                locked_rows.locked = row[Q::version].as<std::int64_t>();
                continue;
            }
            if (kind == Q::product) {
                loaded.found = true;
                loaded.version = row[Q::version].as<std::int64_t>();
                if (!row[Q::batch_id].is_null()) loaded.rows.push_back(batch_row(row));
                continue;
            }
            OrderLine line{row[Q::line_orderid].as<std::string>(), sku, row[Q::line_qty].as<Quantity>()};
            const auto id = row[Q::line_id].as<std::int64_t>();
            if (kind == Q::waiting) {
                loaded.waiting.emplace_back(id, std::move(line));
            } else {
                lines.emplace_back(row[Q::line_batch_id].as<std::int64_t>(), id, std::move(line));
            }
        }
        for (auto& line : lines) {
            const std::int64_t batch_id = std::get<0>(line);
            auto row = std::find_if(loaded.rows.begin(), loaded.rows.end(),
                                    [&](const allocation::detail::BatchRow& r) { return r.id == batch_id; });
            if (row != loaded.rows.end()) row->lines.emplace_back(std::get<1>(line), std::move(std::get<2>(line)));
        }
        return locked_rows;
    }

    allocation::detail::BatchRow batch_row(const pqxx::row& row) const {
        using Q = detail::ProductQuery;
        std::optional<Date> eta;
        if (!row[Q::eta].is_null()) {
            const auto text = row[Q::eta].as<std::string>();
            eta = allocation::parse_date(text);
            if (!eta) throw StorageError(detail::describe(where(), "reading a batch", "invalid eta " + text));
        }
        return {row[Q::batch_id].as<std::int64_t>(), row[Q::reference].as<std::string>(),
                row[Q::purchased].as<Quantity>(), eta, row[Q::allocated].as<Quantity>(), {}};
    }

public:
    // Writes exactly what the product's change record says (allocation::detail::write_changes), in the transaction
    // that locked the product, most of it through the commit's `rows` (detail::ProductWrites). The version's
    // compare-and-set finds the version it read unless something wrote the product without its lock: zero rows,
    // ConcurrencyError.
    void write(pqxx::transaction_base& tx, detail::PendingRows& rows, Entry& entry) {
        write_changes_with(detail::ProductWrites{tx, rows, where()}, entry);
    }
};

}  // namespace detail

/// The Repository port over the adapter's tables: see allocation::detail::SqlRepository for the lookups' rules.
using Repository = allocation::detail::SqlRepository<detail::ProductTables>;

static_assert(ports::diagnose_repository<Repository>());

}  // namespace allocation::postgres
