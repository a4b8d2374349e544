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

    /// The stored view's rows, written in the commit's transaction. The strings are the events' and the pending
    /// changes', alive until the statement has run, so they are bound without a copy.
    struct StoredRows {
        detail::Statements* st;
        void add(const std::string& orderid, const std::string& sku, const std::string& batchref) {
            detail::view_add(*st, orderid, sku, batchref);
        }
        void remove(const std::string& orderid, const std::string& sku) { detail::view_remove(*st, orderid, sku); }
    };

public:
    using View = PendingAllocationsView<StoredView>;

public:
    explicit UnitOfWork(Database& db)
        : db_(db), lease_(db.lease()), products_(lease_, db.options().path), view_(StoredView{&lease_}),
          messages_(lease_, db.options().path, db.writer_) {
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
        std::vector<ports::OutboxMessage> stored;
        try {
            if (has_work()) write(stored);
        } catch (const SQLite::Exception& e) {
            throw StorageError(detail::describe(db_.options().path, "commit failed, nothing was written", e.what()));
        }
        products_.loaded_.committed(events_);
        view_.changes().clear();
        messages_.clear();
        outbox_.insert(outbox_.end(), std::make_move_iterator(stored.begin()), std::make_move_iterator(stored.end()));
    }

    void rollback() noexcept {
        products_.loaded_.discard();
        view_.changes().clear();
        messages_.clear();
        if (lease_.connection().in_transaction()) lease_.connection().db.tryExec("ROLLBACK");
    }

    std::vector<events::Event> collect_new_events() { return std::exchange(events_, {}); }
    std::vector<ports::OutboxMessage> collect_outbox() { return std::exchange(outbox_, {}); }

private:
    // Whether the commit has anything to write: changed products, view rows, outbox rows, message ids.
    bool has_work() noexcept {
        return products_.loaded_.has_work() || !view_.changes().empty() ||
               allocation::detail::any_raises_outbound(products_.seen()) || !messages_.empty();
    }

    // One write transaction: the products' changes, the view's rows, the outbox rows (kept in `stored`), the
    // message ids, and the delivery marks the database holds, which ride with it.
    void write(std::vector<ports::OutboxMessage>& stored) {
        auto& st = lease_.statements();
        std::lock_guard writer(db_.writer_);
        detail::Transaction transaction(lease_.connection().db, st.begin_write, st.commit);
        for (auto* entry : products_.loaded_.tracked()) products_.write(*entry);
        StoredRows rows{&st};
        for (const auto& change : view_.changes().pending()) {
            if (change.is_add) {
                rows.add(change.orderid, change.sku, change.batchref);
            } else {
                rows.remove(change.orderid, change.sku);
            }
        }
        project_events(products_.seen(), rows);
        allocation::detail::store_outbox_rows(
            products_.loaded_.tracked(), [&](const std::string& sku) { return detail::outbox_next_position(st, sku); },
            [&](ports::OutboxMessage message) {
                detail::outbox_insert(st, message);
                stored.push_back(std::move(message));
            });
        messages_.write(st);
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
    std::vector<events::Event> events_;
    std::vector<ports::OutboxMessage> outbox_;  // the rows its commits stored, not yet collected
};

static_assert(ports::diagnose_unit_of_work<UnitOfWork>());
static_assert(ports::RecordsProcessedMessages<UnitOfWork>);

/// Makes units of work over one database. Cheap to copy; every copy refers to the same Database, which must
/// outlive it. May be called from any number of threads: each unit of work gets a connection of its own.
using UnitOfWorkFactory = ports::BasicUnitOfWorkFactory<UnitOfWork, Database>;

static_assert(ports::diagnose_unit_of_work_factory<UnitOfWorkFactory>());

}  // namespace allocation::sqlite
