// SQLite UnitOfWork and its factory: reads without the write lock, commits with BEGIN IMMEDIATE and a version check.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "allocation/adapters/sqlite/database.hpp"
#include "allocation/adapters/sqlite/outbox.hpp"
#include "allocation/adapters/sqlite/processed_messages.hpp"
#include "allocation/adapters/sqlite/repository.hpp"
#include "allocation/adapters/sqlite/transaction.hpp"
#include "allocation/adapters/sqlite/views.hpp"
#include "allocation/detail/sql_unit_of_work.hpp"
#include "allocation/domain/errors.hpp"
#include "allocation/domain/events.hpp"
#include "allocation/outbox.hpp"
#include "allocation/ports/outbox.hpp"
#include "allocation/ports/unit_of_work.hpp"
#include "allocation/view_changes.hpp"

namespace allocation::sqlite {

namespace detail {

/// The stored allocations view, read through a unit of work's connection.
class LeasedView {
public:
    /// Reads fail with SQLite's own exceptions, so the path is not kept.
    LeasedView(Lease& lease, const std::string& /*path*/) noexcept : lease_(&lease) {}

    std::vector<ports::AllocationRow> allocations(std::string_view orderid) const {
        return view_rows(lease_->statements(), std::string(orderid));
    }

private:
    Lease* lease_;
};

}  // namespace detail

/// Holds one connection for its whole life (its thread's own; on ":memory:", the shared one, in turn).
///
/// `commit()` runs BEGIN IMMEDIATE, then for each changed product a compare-and-set of its version
/// (`UPDATE products SET version_number = new WHERE sku = ? AND version_number = read`), then the product's
/// recorded changes, then COMMIT. A version that moved, or a product or batch someone else created meanwhile,
/// throws ConcurrencyError and nothing is written. Any other failure throws StorageError, also writing nothing.
/// The read-model changes made through `allocations()`, and those the products' events call for (see
/// allocation::project), are written in that same transaction, however the products were changed; so are the
/// outbox rows of the events that leave the process (allocation::leaves_the_process, read by sqlite::Outbox), the
/// delivery marks sqlite::Outbox holds in memory, and the message ids recorded through `messages()` (ports::RecordsProcessedMessages):
/// an id committed meanwhile by another unit of work throws ConcurrencyError.
class UnitOfWork : public allocation::detail::SqlUnitOfWork<detail::Lease, detail::ProductTables, detail::LeasedView,
                                                            ProcessedMessages> {
    /// The commit's statements (allocation::detail::CommitStatements), in its write transaction. The strings are
    /// the events' and the pending changes', alive until the statement has run, so they are bound without a copy.
    struct CommitRows {
        UnitOfWork* uow;
        detail::Statements* st;
        void write(allocation::detail::LoadedProduct& entry) { uow->products_.tables().write(entry); }
        void add(const std::string& orderid, const std::string& sku, const std::string& batchref) {
            detail::view_add(*st, orderid, sku, batchref);
        }
        void remove(const std::string& orderid, const std::string& sku) { detail::view_remove(*st, orderid, sku); }
        std::pair<std::int64_t, std::int64_t> outbox_next_position(const std::string& sku) {
            return detail::outbox_next_position(*st, sku);
        }
        void outbox_insert(const ports::OutboxMessage& message) { detail::outbox_insert(*st, message); }
        void write_messages() { uow->messages_.write(*st); }
    };

public:
    explicit UnitOfWork(Database& db) : SqlUnitOfWork(db.lease(), db.options().path, db.writer_), db_(db) {
        if (lease_.connection().unit_of_work_open) {
            throw StorageError(detail::describe(db.options().path, "cannot start a unit of work",
                                                "another unit of work of this thread is still open on :memory:"));
        }
        lease_.connection().unit_of_work_open = true;
    }
    ~UnitOfWork() {
        rollback();
        lease_.connection().unit_of_work_open = false;
    }

    void commit() {
        commit_.commit([this](auto&& write) {
            try {
                in_write_transaction(write);
            } catch (const SQLite::Exception& e) {
                db_.health_.record_failure(e.getErrorCode(), e.what());
                throw StorageError(
                    detail::describe(db_.options().path, "commit failed, nothing was written", e.what()));
            }
            db_.health_.record_success();
        });
    }

    /// Forgets what was not committed, and ends the transaction a failed commit may have left open.
    void rollback() noexcept {
        SqlUnitOfWork::rollback();
        if (lease_.connection().in_transaction()) lease_.connection().db.tryExec("ROLLBACK");
    }

private:
    // One write transaction: what `write` stores (allocation::detail::write_commit), and the delivery marks the
    // database holds, which ride with it.
    template <typename Write>
    void in_write_transaction(Write& write) {
        auto& st = lease_.statements();
        std::lock_guard writer(db_.writer_);
        detail::Transaction transaction(lease_.connection().db, st.begin_write, st.commit);
        CommitRows rows{this, &st};
        write(rows);
        allocation::detail::TakenMarks marks(db_.marks_);
        detail::write_marks(st, marks.ids(), outbox_microseconds(marks.at()));
        transaction.commit();
        db_.health_.confirm(lease_.connection().db.getHandle());  // before anyone is told the change is kept
        marks.done();
    }

    Database& db_;
};

static_assert(ports::diagnose_unit_of_work<UnitOfWork>());
static_assert(ports::RecordsProcessedMessages<UnitOfWork>);
static_assert(ports::Savepoints<UnitOfWork>);

/// Makes units of work over one database. Cheap to copy; every copy refers to the same Database, which must
/// outlive it. May be called from any number of threads: each unit of work gets a connection of its own.
using UnitOfWorkFactory = ports::BasicUnitOfWorkFactory<UnitOfWork, Database>;

static_assert(ports::diagnose_unit_of_work_factory<UnitOfWorkFactory>());

}  // namespace allocation::sqlite
