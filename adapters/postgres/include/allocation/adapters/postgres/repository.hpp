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
#include "allocation/detail/loaded_products.hpp"
#include "allocation/domain/errors.hpp"
#include "allocation/domain/events.hpp"
#include "allocation/domain/rules.hpp"
#include "allocation/domain/model.hpp"
#include "allocation/ports/repository.hpp"

namespace allocation::postgres {

/// The lookups of the Repository port over the tables of migrations[0], by the rules of
/// allocation::detail::LoadedProducts (the same as the SQLite adapter's): `get` loads the product, its batches
/// with exact quantities and its waiting lines; `get_for_order` also every line of the order, `get_by_batchref`
/// every line of the batch; a product kept by the connection's ProductCache is handed out again once its version
/// proves it is still the stored one. Each read is one statement (detail::ProductQuery), so one snapshot, by
/// indexes only, outside any write transaction: a loaded product is a state that existed, with its version, and
/// the commit's compare-and-set on that version is what makes writing it back safe. Commits write exactly the
/// products' recorded changes.
class Repository {
public:
    Repository(const Repository&) = delete;
    Repository& operator=(const Repository&) = delete;

    /// Tracks a new product. Its row is inserted on commit; if someone else stored the same SKU meanwhile, that
    /// commit throws ConcurrencyError.
    Product& add(Product product) { return loaded_.add(std::move(product)); }
    Product* get(std::string_view sku) { return loaded_.get(sku); }
    Product* get_for_order(std::string_view sku, std::string_view orderid) { return loaded_.get_for_order(sku, orderid); }
    Product* get_by_batchref(std::string_view reference) { return loaded_.get_by_batchref(reference); }
    std::span<Product* const> seen() const noexcept { return loaded_.seen(); }

private:
    friend class UnitOfWork;
    friend class allocation::detail::LoadedProducts<Repository>;

    using Entry = allocation::detail::LoadedProduct;

    Repository(detail::Lease& lease, const std::string& where)
        : lease_(lease), where_(where), loaded_(*this, lease.connection().cache) {}

    template <typename Fn>
    decltype(auto) guarded(std::string_view doing, Fn&& fn) {
        return lease_.guarded(where_, doing, std::forward<Fn>(fn));
    }

    // --- reading, for LoadedProducts ------------------------------------------------------------------

    // A batch's SKU never changes and batches are never deleted, so this may come from an earlier moment than the
    // product read that follows it.
    std::optional<std::string> sku_of(std::string_view reference) {
        return guarded("reading a batch", [&]() -> std::optional<std::string> {
            pqxx::nontransaction tx(lease_.db());
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
            pqxx::nontransaction tx(lease_.db());
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
            pqxx::nontransaction tx(lease_.db());
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
            if (!eta) throw StorageError(detail::describe(where_, "reading a batch", "invalid eta " + text));
        }
        return {row[Q::batch_id].as<std::int64_t>(), row[Q::reference].as<std::string>(),
                row[Q::purchased].as<Quantity>(), eta, row[Q::allocated].as<Quantity>(), {}};
    }

    // --- writing (inside the unit of work's transaction) -----------------------------------------------

    static std::int64_t insert_batch(pqxx::transaction_base& tx, const Batch& batch) {
        try {
            const auto rows = detail::run(tx, detail::sql::insert_batch, batch.reference(), batch.sku(),
                                          batch.purchased_quantity(),
                                          batch.eta() ? allocation::to_string(*batch.eta()) : std::string(),
                                          batch.allocated_quantity());
            return rows[0][0].as<std::int64_t>();
        } catch (const pqxx::unique_violation&) {
            throw ConcurrencyError("Batch " + batch.reference() + " was stored by someone else meanwhile");
        }
    }

    void insert_line(pqxx::transaction_base& tx, const OrderLine& line, std::int64_t batch_id) {
        try {
            detail::run(tx, detail::sql::insert_line, line.orderid, line.sku, line.qty, batch_id);
        } catch (const pqxx::unique_violation& e) {
            throw StorageError(detail::describe(
                where_, "storing an allocation",
                "line " + line.orderid + "/" + line.sku + "/" + std::to_string(line.qty) +
                    " clashes with a stored line (" + e.what() +
                    "); look the product up with get_for_order before allocating"));
        }
    }

    void delete_line(pqxx::transaction_base& tx, const OrderLine& line, std::int64_t batch_id,
                     const std::string& reference) {
        if (detail::run(tx, detail::sql::delete_line, line.orderid, line.sku, line.qty, batch_id).affected_rows() != 1) {
            throw StorageError(detail::describe(where_, "storing a deallocation",
                                                "line " + line.orderid + " is not stored in batch " + reference));
        }
    }

    static void insert_waiting(pqxx::transaction_base& tx, const OrderLine& line) {
        detail::run(tx, detail::sql::insert_waiting, line.orderid, line.sku, line.qty);
    }

    void delete_waiting(pqxx::transaction_base& tx, const OrderLine& line) {
        if (detail::run(tx, detail::sql::delete_waiting, line.orderid, line.sku, line.qty).affected_rows() != 1) {
            throw StorageError(detail::describe(where_, "storing an allocation of a waiting line",
                                                "line " + line.orderid + " is not stored as waiting"));
        }
    }

    void insert_product(pqxx::transaction_base& tx, Entry& entry) {
        const Product& product = entry.product;
        try {
            detail::run(tx, detail::sql::insert_product, product.sku(), product.version_number());
        } catch (const pqxx::unique_violation&) {
            throw ConcurrencyError("Product " + product.sku() + " was created by someone else meanwhile");
        }
        const auto batches = product.batches();
        entry.pending_ids.assign(batches.size(), 0);
        for (std::size_t slot = 0; slot < batches.size(); ++slot) {
            entry.pending_ids[slot] = insert_batch(tx, batches[slot]);
            for (const OrderLine& line : batches[slot].allocations()) insert_line(tx, line, entry.pending_ids[slot]);
        }
        for (const OrderLine& line : product.waiting()) insert_waiting(tx, line);
    }

    // Writes exactly what the product's change record says; the version compare-and-set comes first, so a lost
    // race is detected before anything else is written. Under READ COMMITTED the UPDATE waits for a concurrent
    // commit of the same product and then finds the version moved: zero rows, ConcurrencyError.
    void write(pqxx::transaction_base& tx, Entry& entry) {
        if (!entry.stored) return insert_product(tx, entry);
        entry.pending_ids = entry.batch_ids;
        const Product& product = entry.product;
        if (!product.changed()) return;
        if (detail::run(tx, detail::sql::update_version, product.version_number(), product.sku(),
                        product.loaded_version())
                .affected_rows() != 1) {
            throw ConcurrencyError("Product " + product.sku() + " was changed by someone else since version " +
                                   std::to_string(product.loaded_version()) + " was read; nothing was written");
        }
        const auto batches = product.batches();
        auto& ids = entry.pending_ids;
        ids.resize(batches.size(), 0);
        touched_.clear();
        for (const changes::Change& change : product.changes()) {
            std::visit(
                [&](const auto& c) {
                    using C = std::decay_t<decltype(c)>;
                    if constexpr (std::is_same_v<C, changes::BatchAdded>) {
                        ids[c.slot] = insert_batch(tx, batches[c.slot]);
                    } else if constexpr (std::is_same_v<C, changes::LineAllocated>) {
                        insert_line(tx, c.line, ids[c.slot]);
                        touched_.push_back(c.slot);
                    } else if constexpr (std::is_same_v<C, changes::LineDeallocated>) {
                        delete_line(tx, c.line, ids[c.slot], batches[c.slot].reference());
                        touched_.push_back(c.slot);
                    } else if constexpr (std::is_same_v<C, changes::QuantityChanged>) {
                        touched_.push_back(c.slot);
                    } else if constexpr (std::is_same_v<C, changes::WaitingLineAdded>) {
                        insert_waiting(tx, c.line);
                    } else {
                        static_assert(std::is_same_v<C, changes::WaitingLineRemoved>);
                        delete_waiting(tx, c.line);
                    }
                },
                change);
        }
        // Each batch whose quantities changed is written once, as it ends.
        std::sort(touched_.begin(), touched_.end());
        touched_.erase(std::unique(touched_.begin(), touched_.end()), touched_.end());
        for (std::uint32_t slot : touched_) {
            detail::run(tx, detail::sql::update_batch, batches[slot].purchased_quantity(),
                        batches[slot].allocated_quantity(), ids[slot]);
        }
    }

    detail::Lease& lease_;
    const std::string& where_;
    allocation::detail::LoadedProducts<Repository> loaded_;
    std::vector<std::uint32_t> touched_;  // write(): slots whose quantities changed
};

static_assert(ports::diagnose_repository<Repository>());

}  // namespace allocation::postgres
