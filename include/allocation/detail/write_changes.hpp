// Writing a product back to an SQL database: the walk over its recorded changes, written once for every SQL
// adapter, each adapter supplying only the statement for each kind of change.
#pragma once

#include <algorithm>
#include <concepts>
#include <cstdint>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include "allocation/detail/product_cache.hpp"
#include "allocation/domain/errors.hpp"
#include "allocation/domain/model.hpp"

namespace allocation::detail {

/// The statements an SQL adapter runs, inside its commit's transaction, to store a product's changes. Each one
/// translates its own library's errors: a row someone else created meanwhile is a ConcurrencyError, a row that
/// is not where the journal says is a StorageError.
/// - `insert_product(product)`: the product's row, at its version;
/// - `update_version(product)`: the compare-and-set of its version from `loaded_version()` to `version_number()`,
///   true when it changed the one row (false: someone else changed the product meanwhile);
/// - `insert_batch(batch)`: the batch's row (with its allocated quantity when the row holds it), its row id;
/// - `insert_line(line, batch_id, allocated_after)`: an allocated line, with the batch's allocated quantity once
///   it is allocated (for a schema that keeps it on the lines);
/// - `delete_line(line, batch_id, batch)`: a deallocated line, always the batch's newest;
/// - `insert_waiting(line)`, `delete_waiting(line)`: a line that joins or leaves the waiting lines;
/// - `update_batch(batch, batch_id)`: the batch's row as the batch ends, once per changed batch;
/// - `allocated_in_batch_row`: whether the batch row holds the allocated quantity, so that allocating and
///   deallocating change it too (otherwise only a new purchased quantity does).
///
/// The two schemas store a batch's allocated quantity differently, and the walk serves both. SQLite keeps it on the
/// allocations (`allocated_after`, migrations[1]) because its single writer pays for every statement and page of a
/// commit: an allocation then writes no batch row (docs/performance.md, "SQLite adapter"). PostgreSQL keeps the
/// batch column, which its one-statement lookup reads without a subquery over the allocations; its way would save
/// PostgreSQL the batch row's statement too, but takes a migration of stored databases and the newest-first rule
/// on deleting lines that SQLite's `delete_line` enforces.
template <typename W>
concept ChangeWriter = requires(W& w, const Product& product, const Batch& batch, const OrderLine& line,
                                std::int64_t id, Quantity quantity) {
    w.insert_product(product);
    { w.update_version(product) } -> std::same_as<bool>;
    { w.insert_batch(batch) } -> std::same_as<std::int64_t>;
    w.insert_line(line, id, quantity);
    w.delete_line(line, id, batch);
    w.insert_waiting(line);
    w.delete_waiting(line);
    w.update_batch(batch, id);
    requires std::same_as<decltype(W::allocated_in_batch_row), const bool>;
};

/// What write_changes reuses from one product to the next, so that writing allocates nothing once warm.
struct ChangeScratch {
    std::vector<Quantity> running;        // allocated quantity per slot, replayed forward
    std::vector<std::uint32_t> touched;  // slots whose row is written as the batch ends
};

namespace write_detail {

// A product no commit stored yet: its row, its batches with their lines, its waiting lines.
template <ChangeWriter W>
void insert_all(W& writer, LoadedProduct& entry) {
    const Product& product = entry.product;
    const auto batches = product.batches();
    writer.insert_product(product);
    entry.pending_ids.assign(batches.size(), 0);
    for (std::size_t slot = 0; slot < batches.size(); ++slot) {
        entry.pending_ids[slot] = writer.insert_batch(batches[slot]);
        Quantity allocated = 0;
        for (const OrderLine& line : batches[slot].allocations()) {
            allocated += line.qty;
            writer.insert_line(line, entry.pending_ids[slot], allocated);
        }
    }
    for (const OrderLine& line : product.waiting()) writer.insert_waiting(line);
}

// Each batch's allocated quantity before the changes, so that the walk can give every new line its
// allocated_after by replaying them forward.
inline void replay_from_start(const Product& product, std::vector<Quantity>& running) {
    const auto batches = product.batches();
    running.resize(batches.size());
    for (std::size_t slot = 0; slot < batches.size(); ++slot) running[slot] = batches[slot].allocated_quantity();
    for (const changes::Change& change : product.changes()) {
        if (const auto* c = std::get_if<changes::LineAllocated>(&change)) running[c->slot] -= c->line.qty;
        if (const auto* c = std::get_if<changes::LineDeallocated>(&change)) running[c->slot] += c->line.qty;
    }
}

// The statement of one recorded change.
template <ChangeWriter W>
void write_one(W& writer, const changes::Change& change, const Product& product, std::vector<std::int64_t>& ids,
               ChangeScratch& scratch) {
    constexpr bool in_row = W::allocated_in_batch_row;
    const auto batches = product.batches();
    std::visit(
        [&](const auto& c) {
            using C = std::decay_t<decltype(c)>;
            if constexpr (std::is_same_v<C, changes::BatchAdded>) {
                ids[c.slot] = writer.insert_batch(batches[c.slot]);
            } else if constexpr (std::is_same_v<C, changes::LineAllocated>) {
                if constexpr (in_row) scratch.touched.push_back(c.slot);
                Quantity after = 0;
                if constexpr (!in_row) after = (scratch.running[c.slot] += c.line.qty);
                writer.insert_line(c.line, ids[c.slot], after);
            } else if constexpr (std::is_same_v<C, changes::LineDeallocated>) {
                writer.delete_line(c.line, ids[c.slot], batches[c.slot]);
                if constexpr (in_row) scratch.touched.push_back(c.slot);
                if constexpr (!in_row) scratch.running[c.slot] -= c.line.qty;
            } else if constexpr (std::is_same_v<C, changes::QuantityChanged>) {
                scratch.touched.push_back(c.slot);
            } else if constexpr (std::is_same_v<C, changes::WaitingLineAdded>) {
                writer.insert_waiting(c.line);
            } else {
                static_assert(std::is_same_v<C, changes::WaitingLineRemoved>);
                writer.delete_waiting(c.line);
            }
        },
        change);
}

}  // namespace write_detail

/// Writes exactly what the product's change journal (namespace `changes`) says, and sets `entry.pending_ids` to
/// its batches' row ids as they will be once the commit succeeds. The version compare-and-set comes first, so a
/// lost race is detected, as a ConcurrencyError, before anything else is written (a writer that gathers its rows
/// for one statement at the commit's end answers true and reports it then, before any other failure); each batch
/// whose row changes is written once, as it ends.
template <ChangeWriter W>
void write_changes(W& writer, LoadedProduct& entry, ChangeScratch& scratch) {
    if (!entry.stored) return write_detail::insert_all(writer, entry);
    entry.pending_ids = entry.batch_ids;
    const Product& product = entry.product;
    if (!product.changed()) return;
    if (!writer.update_version(product)) {
        throw ConcurrencyError("Product " + product.sku() + " was changed by someone else since version " +
                               std::to_string(product.loaded_version()) + " was read; nothing was written");
    }
    const auto batches = product.batches();
    entry.pending_ids.resize(batches.size(), 0);
    if constexpr (!W::allocated_in_batch_row) write_detail::replay_from_start(product, scratch.running);
    scratch.touched.clear();
    for (const changes::Change& change : product.changes()) {
        write_detail::write_one(writer, change, product, entry.pending_ids, scratch);
    }
    std::sort(scratch.touched.begin(), scratch.touched.end());
    scratch.touched.erase(std::unique(scratch.touched.begin(), scratch.touched.end()), scratch.touched.end());
    for (std::uint32_t slot : scratch.touched) writer.update_batch(batches[slot], entry.pending_ids[slot]);
}

}  // namespace allocation::detail
