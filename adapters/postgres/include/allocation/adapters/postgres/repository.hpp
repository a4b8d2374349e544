// PostgreSQL Repository: loads products with only the lines a lookup promises, in one statement, and writes back
// only their changes.
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
/// Each read is one statement (detail::ProductQuery), so one snapshot, by indexes only, outside any write
/// transaction: a loaded product is a state that existed, with its version, and the commit's compare-and-set on
/// that version is what makes writing it back safe. Commits write exactly the products' recorded changes.
class ProductTables : public allocation::detail::SqlTables<Lease> {
public:
    using SqlTables::SqlTables;

private:
    friend class allocation::detail::LoadedProducts<ProductTables>;

    template <typename Fn>
    decltype(auto) guarded(std::string_view doing, Fn&& fn) {
        return lease().guarded(where(), doing, std::forward<Fn>(fn));
    }

    // --- reading, for LoadedProducts ------------------------------------------------------------------

    // A batch's SKU never changes and batches are never deleted, so this may come from an earlier moment than the
    // product read that follows it.
    std::optional<std::string> sku_of(std::string_view reference) {
        return guarded("reading a batch", [&]() -> std::optional<std::string> {
            pqxx::nontransaction tx(lease().db());
            const auto rows = detail::run(tx, detail::sql::select_batch_sku, std::string(reference));
            if (rows.empty()) return std::nullopt;
            return rows[0][0].as<std::string>();
        });
    }

    // Whether a cached product is still exactly the stored one: the same version, which every change moves up.
    // For an order's lookup, the order must have no stored line of the SKU either, since a cached product holds
    // only some lines; the rare lookup of an order that has one reads the product afresh with that line.
    bool still_stored(const Entry& entry) {
        return guarded("reading a product's version", [&] {
            pqxx::nontransaction tx(lease().db());
            const bool for_order = !entry.orders.empty();
            const auto rows = for_order ? detail::run(tx, detail::sql::select_version_and_order, entry.product.sku(),
                                                      entry.orders.front())
                                        : detail::run(tx, detail::sql::select_version, entry.product.sku());
            return !rows.empty() && rows[0][0].as<std::int64_t>() == entry.product.version_number() &&
                   (!for_order || !rows[0][1].as<bool>());
        });
    }

    std::unique_ptr<Entry> read(std::string_view sku_view, std::vector<std::string> orders,
                                std::vector<std::string> full_batches) {
        const std::string sku(sku_view);
        auto loaded = guarded("reading a product", [&] {
            pqxx::nontransaction tx(lease().db());
            if (full_batches.empty()) {
                return parse(sku, detail::run(tx, detail::sql::select_product, sku, detail::text_array(orders)));
            }
            return parse(sku, detail::run(tx, detail::sql::select_product_batches, sku, detail::text_array(orders),
                                          detail::text_array(full_batches)));
        });
        if (!loaded.found) return nullptr;
        return allocation::detail::build(sku, loaded, std::move(orders), std::move(full_batches));
    }

    allocation::detail::ProductRows parse(const std::string& sku, const pqxx::result& result) const {
        using Q = detail::ProductQuery;
        allocation::detail::ProductRows loaded;
        std::vector<std::tuple<std::int64_t, std::int64_t, OrderLine>> lines;  // (batch id, line id, line)
        for (const auto& row : result) {
            const int kind = row[Q::kind].as<int>();
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
        return loaded;
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
    // Writes exactly what the product's change record says (allocation::detail::write_changes). Under READ
    // COMMITTED the version's compare-and-set waits for a concurrent commit of the same product and then finds the
    // version moved: zero rows, ConcurrencyError.
    void write(pqxx::transaction_base& tx, Entry& entry) {
        write_changes_with(detail::ProductWrites{tx, where()}, entry);
    }
};

}  // namespace detail

/// The Repository port over the adapter's tables: see allocation::detail::SqlRepository for the lookups' rules.
using Repository = allocation::detail::SqlRepository<detail::ProductTables>;

static_assert(ports::diagnose_repository<Repository>());

}  // namespace allocation::postgres
