// The statements that store a product's recorded changes in PostgreSQL (allocation::detail::ChangeWriter).
#pragma once

#include <cstdint>
#include <string>

#include <pqxx/pqxx>

#include "allocation/adapters/postgres/errors.hpp"
#include "allocation/adapters/postgres/pending_rows.hpp"
#include "allocation/adapters/postgres/statements.hpp"
#include "allocation/detail/write_changes.hpp"
#include "allocation/domain/errors.hpp"
#include "allocation/domain/rules.hpp"
#include "allocation/domain/model.hpp"

namespace allocation::postgres::detail {

/// A batch's allocated quantity is a column of its row, maintained by each commit: allocating and deallocating
/// write the batch row once per commit (as it ends), and a lookup reads the quantity from the row alone.
///
/// The version's compare-and-set, the lines inserted and the batch rows go to the commit's PendingRows, written in
/// its one statement; a new product or batch is inserted at once (the lines refer to it, and a batch's id is read
/// back), and so is a line deleted, unless it is one the commit inserts.
struct ProductWrites {
    static constexpr bool allocated_in_batch_row = true;

    pqxx::transaction_base& tx;
    PendingRows& rows;
    const std::string& where;

    void insert_product(const Product& product) {
        try {
            run(tx, sql::insert_product, product.sku(), product.version_number());
        } catch (const pqxx::unique_violation&) {
            throw ConcurrencyError("Product " + product.sku() + " was created by someone else meanwhile");
        }
    }

    // Checked when the commit's rows are written (PendingRows::write): a version that moved is a ConcurrencyError.
    bool update_version(const Product& product) {
        rows.version(product);
        return true;
    }

    std::int64_t insert_batch(const Batch& batch) {
        try {
            const auto rows = run(tx, sql::insert_batch, batch.reference(), batch.sku(), batch.purchased_quantity(),
                                  batch.eta() ? allocation::to_string(*batch.eta()) : std::string(),
                                  batch.allocated_quantity());
            return rows[0][0].as<std::int64_t>();
        } catch (const pqxx::unique_violation&) {
            throw ConcurrencyError("Batch " + batch.reference() + " was stored by someone else meanwhile");
        }
    }

    // The batch row holds the allocated quantity: `allocated_after` is not stored with the line.
    void insert_line(const OrderLine& line, std::int64_t batch_id, Quantity /*allocated_after*/) {
        rows.line(line, batch_id);
    }

    void delete_line(const OrderLine& line, std::int64_t batch_id, const Batch& batch) {
        if (rows.forget_line(line, batch_id)) return;
        if (run(tx, sql::delete_line, line.orderid, line.sku, line.qty, batch_id).affected_rows() != 1) {
            rows.fail(describe(where, "storing a deallocation",
                               "line " + line.orderid + " is not stored in batch " + batch.reference()));
        }
    }

    void insert_waiting(const OrderLine& line) { rows.waiting(line); }

    void delete_waiting(const OrderLine& line) {
        if (rows.forget_waiting(line)) return;
        if (run(tx, sql::delete_waiting, line.orderid, line.sku, line.qty).affected_rows() != 1) {
            rows.fail(describe(where, "storing an allocation of a waiting line",
                               "line " + line.orderid + " is not stored as waiting"));
        }
    }

    void update_batch(const Batch& batch, std::int64_t batch_id) { rows.batch(batch, batch_id); }
};

static_assert(allocation::detail::ChangeWriter<ProductWrites>);

}  // namespace allocation::postgres::detail
