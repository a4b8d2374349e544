// PostgreSQL UnitOfWork and its factory: one READ COMMITTED transaction from the first read to the commit, in which
// each product read is locked, so that units of work on one product queue; each changed product's version is
// compared and set at commit as well.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <pqxx/pqxx>

#include "allocation/adapters/postgres/database.hpp"
#include "allocation/adapters/postgres/outbox.hpp"
#include "allocation/adapters/postgres/pending_rows.hpp"
#include "allocation/adapters/postgres/processed_messages.hpp"
#include "allocation/adapters/postgres/repository.hpp"
#include "allocation/adapters/postgres/views.hpp"
#include "allocation/detail/sql_unit_of_work.hpp"
#include "allocation/domain/errors.hpp"
#include "allocation/domain/events.hpp"
#include "allocation/outbox.hpp"
#include "allocation/ports/outbox.hpp"
#include "allocation/ports/unit_of_work.hpp"
#include "allocation/view_changes.hpp"

namespace allocation::postgres {

namespace detail {

/// The stored allocations view, read through a unit of work's connection.
class LeasedView {
public:
    LeasedView(Lease& lease, const std::string& where) noexcept : lease_(&lease), where_(&where) {}

    std::vector<ports::AllocationRow> allocations(std::string_view orderid) const {
        return lease_->in_transaction(*where_, "reading the allocations view", [&](pqxx::transaction_base& tx) {
            return view_rows(tx, std::string(orderid));
        });
    }

private:
    Lease* lease_;
    const std::string* where_;
};

}  // namespace detail

/// Holds one connection of the pool (its thread's own) for its whole life, and on it one READ COMMITTED
/// transaction from its first read to its commit or rollback.
///
/// Every product it hands out was read with its row locked (SELECT ... FOR UPDATE, see detail::ProductTables): a
/// second unit of work that wants the same product waits until this one commits or rolls back, then reads the
/// version it left. Concurrent commands on one product queue on that lock; none of them loses a race.
///
/// `commit()` writes, in that transaction, the products' recorded changes with, for each changed product, a
/// compare-and-set of its version (`UPDATE products SET version_number = new WHERE sku = ? AND version_number =
/// read`, which the lock makes succeed: it stays as the safety net), then COMMIT. Its inserts and updates of every
/// table go in one statement (detail::PendingRows, sql::commit_rows), so an allocation into a stored product is
/// that statement and COMMIT; deletions, new products and new batches are statements of their own before it. What is still a
/// ConcurrencyError, with nothing written, is a real conflict: a product or batch that someone else created
/// meanwhile (a product not stored yet has no row to lock, so two units of work may both create it), a version
/// that moved, a message id committed meanwhile, or a transaction PostgreSQL chose to abort (serialization failure
/// 40001, deadlock 40P01: two units of work that lock two products in opposite orders). A connection lost during
/// COMMIT throws CommitOutcomeUnknown (the outcome cannot be known, so it is not a race to retry); any other failure
/// throws StorageError, also writing nothing. The read-model changes made through `allocations()` and those the
/// products' events call for (allocation::project), the outbox rows of the events that leave the process (read by
/// postgres::Outbox), and the message ids recorded through `messages()` are written in that same transaction. A
/// commit with nothing to write ends the transaction of its reads; a failed commit or a lookup that failed rolls
/// it back; rollback() and the destructor roll it back. Either way its locks go, and the unit of work's next read
/// begins another transaction.
class UnitOfWork : public allocation::detail::SqlUnitOfWork<detail::Lease, detail::ProductTables, detail::LeasedView,
                                                            ProcessedMessages> {
    /// The commit's statements (allocation::detail::CommitStatements), in its transaction: what they insert and
    /// update is gathered in `rows` (detail::PendingRows), written in one statement at the commit's end; a
    /// removal from the view is its own statement, run at once.
    struct CommitRows {
        UnitOfWork* uow;
        pqxx::transaction_base* tx;
        detail::PendingRows* rows;
        void write(allocation::detail::LoadedProduct& entry) { uow->products_.tables().write(*tx, *rows, entry); }
        void add(const std::string& orderid, const std::string& sku, const std::string& batchref) {
            rows->view_add(orderid, sku, batchref);
        }
        void remove(const std::string& orderid, const std::string& sku) {
            rows->view_forget(orderid, sku);
            detail::view_remove(*tx, orderid, sku);
        }
        std::pair<std::int64_t, std::int64_t> outbox_next_position(const std::string& sku) {
            return detail::outbox_next_position(*tx, sku);
        }
        void outbox_insert(const ports::OutboxMessage& message) { rows->outbox(message); }
        void write_messages() { rows->messages(uow->messages_.pending()); }
    };

public:
    explicit UnitOfWork(Database& db) : SqlUnitOfWork(db.lease(), db.where()), db_(db) {}
    ~UnitOfWork() { rollback(); }

    void commit() {
        commit_.commit([this](auto&& write) {
            lease_.in_transaction(db_.where(), "commit failed, nothing was written", [&](pqxx::transaction_base& tx) {
                detail::PendingRows pending(tx, db_.where());
                CommitRows rows{this, &tx, &pending};
                write(rows);
                pending.write();
                lease_.commit();
            });
        });
        // Nothing was written: the transaction only read (and locked), and ends here.
        if (lease_.transaction_open()) {
            lease_.guarded(db_.where(), "ending a transaction that wrote nothing", [&] { lease_.commit(); });
        }
    }

    /// Forgets what was not committed and rolls back the open transaction, releasing its locks. Never throws.
    void rollback() noexcept {
        SqlUnitOfWork::rollback();
        lease_.rollback();
    }

private:
    Database& db_;
};

static_assert(ports::diagnose_unit_of_work<UnitOfWork>());
static_assert(ports::RecordsProcessedMessages<UnitOfWork>);
static_assert(ports::Savepoints<UnitOfWork>);

/// Makes units of work over one database. Cheap to copy; every copy refers to the same Database, which must
/// outlive it. May be called from any number of threads: each unit of work gets a connection of its own.
using UnitOfWorkFactory = ports::BasicUnitOfWorkFactory<UnitOfWork, Database>;

static_assert(ports::diagnose_unit_of_work_factory<UnitOfWorkFactory>());

}  // namespace allocation::postgres
