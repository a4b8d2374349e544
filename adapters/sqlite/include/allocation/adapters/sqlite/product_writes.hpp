// The statements that store a product's recorded changes in SQLite (allocation::detail::ChangeWriter).
#pragma once

#include <cstdint>
#include <string>

#include <SQLiteCpp/Exception.h>

#include "allocation/adapters/sqlite/errors.hpp"
#include "allocation/adapters/sqlite/pool.hpp"
#include "allocation/adapters/sqlite/statements.hpp"
#include "allocation/detail/write_changes.hpp"
#include "allocation/domain/errors.hpp"
#include "allocation/domain/rules.hpp"
#include "allocation/domain/model.hpp"

namespace allocation::sqlite::detail {

/// A batch's allocated quantity lives on its allocations (migrations[1]: `allocated_after`, the batch's total once
/// the line was allocated), so allocating writes no batch row; only a new purchased quantity does.
struct ProductWrites {
    static constexpr bool allocated_in_batch_row = false;

    Lease& lease;
    const std::string& path;

    void insert_product(const Product& product) {
        auto& st = lease.statements();
        Use query(st.insert_product);
        bind_text(st.insert_product, 1, product.sku());
        st.insert_product.bind(2, product.version_number());
        exec_or_clash(query, [&] {
            throw ConcurrencyError("Product " + product.sku() + " was created by someone else meanwhile");
        });
    }

    bool update_version(const Product& product) {
        auto& st = lease.statements();
        Use query(st.update_version);
        st.update_version.bind(1, product.version_number());
        bind_text(st.update_version, 2, product.sku());
        st.update_version.bind(3, product.loaded_version());
        return query->exec() == 1;
    }

    std::int64_t insert_batch(const Batch& batch) {
        auto& st = lease.statements();
        Use query(st.insert_batch);
        bind_text(st.insert_batch, 1, batch.reference());
        bind_text(st.insert_batch, 2, batch.sku());
        st.insert_batch.bind(3, batch.purchased_quantity());
        if (batch.eta()) {
            st.insert_batch.bind(4, allocation::to_string(*batch.eta()));
        } else {
            st.insert_batch.bind(4);
        }
        exec_or_clash(query, [&] {
            throw ConcurrencyError("Batch " + batch.reference() + " was stored by someone else meanwhile");
        });
        return lease.connection().db.getLastInsertRowid();
    }

    // `allocated_after`: the batch's allocated quantity with this line (see migrations[1]).
    void insert_line(const OrderLine& line, std::int64_t batch_id, Quantity allocated_after) {
        auto& st = lease.statements();
        try {
            exec_with_line(st.insert_line, line);
        } catch (const SQLite::Exception& e) {
            if (!is_constraint_clash(e)) throw;
            throw StorageError(describe(path, "storing an allocation",
                                        "line " + line.orderid + "/" + line.sku + "/" + std::to_string(line.qty) +
                                            " clashes with a stored line (" + e.what() +
                                            "); look the product up with get_for_order before allocating"));
        }
        const std::int64_t line_id = lease.connection().db.getLastInsertRowid();
        Use query(st.insert_allocation);
        st.insert_allocation.bind(1, line_id);
        st.insert_allocation.bind(2, batch_id);
        st.insert_allocation.bind(3, allocated_after);
        query->exec();
    }

    void delete_line(const OrderLine& line, std::int64_t batch_id, const Batch& batch) {
        auto& st = lease.statements();
        Use query(st.delete_line);
        st.delete_line.bind(1, batch_id);
        bind_text(st.delete_line, 2, line.orderid);
        bind_text(st.delete_line, 3, line.sku);
        st.delete_line.bind(4, line.qty);
        if (query->exec() != 1) {
            throw StorageError(describe(path, "storing a deallocation",
                                        "line " + line.orderid + " is not the newest line stored in batch " +
                                            batch.reference()));
        }
    }

    void insert_waiting(const OrderLine& line) { exec_with_line(lease.statements().insert_waiting, line); }

    void delete_waiting(const OrderLine& line) {
        if (exec_with_line(lease.statements().delete_waiting, line) != 1) {
            throw StorageError(describe(path, "storing an allocation of a waiting line",
                                        "line " + line.orderid + " is not stored as waiting"));
        }
    }

    void update_batch(const Batch& batch, std::int64_t batch_id) {
        auto& st = lease.statements();
        Use query(st.update_batch);
        st.update_batch.bind(1, batch.purchased_quantity());
        st.update_batch.bind(2, batch_id);
        query->exec();
    }

private:
    // Runs a statement whose parameters 1-3 are a line's order id, SKU and quantity; returns the rows it changed.
    static int exec_with_line(SQLite::Statement& statement, const OrderLine& line) {
        Use query(statement);
        bind_text(statement, 1, line.orderid);
        bind_text(statement, 2, line.sku);
        statement.bind(3, line.qty);
        return query->exec();
    }

    // Runs the statement; a row it clashes with calls `clash`, which throws.
    template <typename Clash>
    static void exec_or_clash(const Use& query, Clash&& clash) {
        try {
            query->exec();
        } catch (const SQLite::Exception& e) {
            if (is_constraint_clash(e)) clash();
            throw;
        }
    }
};

static_assert(allocation::detail::ChangeWriter<ProductWrites>);

}  // namespace allocation::sqlite::detail
