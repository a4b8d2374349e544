// SQLite UnitOfWork and its factory: reads without the write lock, commits with BEGIN IMMEDIATE and a version check.
#pragma once

#include <algorithm>
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
#include "allocation/detail/sql_commit.hpp"
#include "allocation/domain/errors.hpp"
#include "allocation/domain/events.hpp"
#include "allocation/outbox.hpp"
#include "allocation/ports/outbox.hpp"
#include "allocation/ports/unit_of_work.hpp"
#include "allocation/view_changes.hpp"

namespace allocation::sqlite {

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
class UnitOfWork {
    /// The stored view, read through this unit of work's connection.
    struct StoredView {
        detail::Lease* lease;
        std::vector<ports::AllocationRow> allocations(std::string_view orderid) const {
            return detail::view_rows(lease->statements(), std::string(orderid));
        }
    };

    /// The commit's statements (allocation::detail::CommitStatements), in its write transaction. The strings are
    /// the events' and the pending changes', alive until the statement has run, so they are bound without a copy.
    struct CommitRows {
        UnitOfWork* uow;
        detail::Statements* st;
        void write(allocation::detail::LoadedProduct& entry) { uow->write_product(entry); }
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
    using View = PendingAllocationsView<StoredView>;

    explicit UnitOfWork(Database& db)
        : db_(db), lease_(db.lease()), products_(lease_.connection().cache, lease_, db.options().path),
          view_(StoredView{&lease_}),
          messages_(lease_, db.options().path, db.writer_), commit_(products_.loaded(), view_.changes(), messages_) {
        if (lease_.connection().unit_of_work_open) {
            throw StorageError(detail::describe(db.options().path, "cannot start a unit of work",
                                                "another unit of work of this thread is still open on :memory:"));
        }
        lease_.connection().unit_of_work_open = true;
    }
    UnitOfWork(const UnitOfWork&) = delete;
    UnitOfWork& operator=(const UnitOfWork&) = delete;
    ~UnitOfWork() {
        rollback();
        lease_.connection().unit_of_work_open = false;
    }

    Repository& products() noexcept { return products_; }
    View& allocations() noexcept { return view_; }
    ProcessedMessages& messages() noexcept { return messages_; }

    void commit() {
        commit_.commit([this](auto&& write) {
            try {
                in_write_transaction(write);
            } catch (const SQLite::Exception& e) {
                throw StorageError(
                    detail::describe(db_.options().path, "commit failed, nothing was written", e.what()));
            }
        });
    }

    void rollback() noexcept {
        commit_.rollback();
        if (lease_.connection().in_transaction()) lease_.connection().db.tryExec("ROLLBACK");
    }

    std::vector<events::Event> collect_new_events() { return commit_.collect_new_events(); }
    std::vector<ports::OutboxMessage> collect_outbox() { return commit_.collect_outbox(); }

private:
    void write_product(allocation::detail::LoadedProduct& entry) { products_.tables().write(entry); }

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
        marks.done();
    }

    Database& db_;
    detail::Lease lease_;
    Repository products_;
    View view_;
    ProcessedMessages messages_;
    allocation::detail::SqlCommit<allocation::detail::LoadedProducts<detail::ProductTables>, ProcessedMessages> commit_;
};

static_assert(ports::diagnose_unit_of_work<UnitOfWork>());
static_assert(ports::RecordsProcessedMessages<UnitOfWork>);

/// Makes units of work over one database. Cheap to copy; every copy refers to the same Database, which must
/// outlive it. May be called from any number of threads: each unit of work gets a connection of its own.
using UnitOfWorkFactory = ports::BasicUnitOfWorkFactory<UnitOfWork, Database>;

static_assert(ports::diagnose_unit_of_work_factory<UnitOfWorkFactory>());

}  // namespace allocation::sqlite
