// PostgreSQL UnitOfWork and its factory: reads outside any write transaction, commits in one READ COMMITTED
// transaction with a compare-and-set of each changed product's version.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <pqxx/pqxx>

#include "allocation/adapters/postgres/database.hpp"
#include "allocation/adapters/postgres/outbox.hpp"
#include "allocation/adapters/postgres/processed_messages.hpp"
#include "allocation/adapters/postgres/repository.hpp"
#include "allocation/adapters/postgres/views.hpp"
#include "allocation/detail/sql_commit.hpp"
#include "allocation/domain/errors.hpp"
#include "allocation/domain/events.hpp"
#include "allocation/outbox.hpp"
#include "allocation/ports/outbox.hpp"
#include "allocation/ports/unit_of_work.hpp"
#include "allocation/view_changes.hpp"

namespace allocation::postgres {

/// Holds one connection of the pool (its thread's own) for its whole life.
///
/// `commit()` runs one READ COMMITTED transaction: for each changed product a compare-and-set of its version
/// (`UPDATE products SET version_number = new WHERE sku = ? AND version_number = read`), then the product's
/// recorded changes, then COMMIT. A version that moved, a product or batch someone else created meanwhile, or a
/// transaction PostgreSQL chose to abort (serialization failure 40001, deadlock 40P01) throws ConcurrencyError and
/// nothing is written. A connection lost during COMMIT throws CommitOutcomeUnknown (the outcome cannot be known,
/// so it is not a race to retry); any other failure throws StorageError, also writing nothing. The read-model
/// changes made through `allocations()` and those the products' events call for (allocation::project), the outbox
/// rows of the events that leave the process (read by postgres::Outbox), and the message ids recorded through
/// `messages()` are written in that same transaction: an id committed meanwhile by another unit of work throws
/// ConcurrencyError.
class UnitOfWork {
    /// The stored view, read through this unit of work's connection.
    struct StoredView {
        detail::Lease* lease;
        const std::string* where;
        std::vector<ports::AllocationRow> allocations(std::string_view orderid) const {
            return lease->guarded(*where, "reading the allocations view", [&] {
                pqxx::nontransaction tx(lease->db());
                return detail::view_rows(tx, std::string(orderid));
            });
        }
    };

    /// The commit's statements (allocation::detail::CommitStatements), in its transaction.
    struct CommitRows {
        UnitOfWork* uow;
        pqxx::transaction_base* tx;
        void write(allocation::detail::LoadedProduct& entry) { uow->write_product(*tx, entry); }
        void add(const std::string& orderid, const std::string& sku, const std::string& batchref) {
            detail::view_add(*tx, orderid, sku, batchref);
        }
        void remove(const std::string& orderid, const std::string& sku) { detail::view_remove(*tx, orderid, sku); }
        std::pair<std::int64_t, std::int64_t> outbox_next_position(const std::string& sku) {
            return detail::outbox_next_position(*tx, sku);
        }
        void outbox_insert(const ports::OutboxMessage& message) { detail::outbox_insert(*tx, message); }
        void write_messages() { uow->messages_.write(*tx); }
    };

public:
    using View = PendingAllocationsView<StoredView>;

    explicit UnitOfWork(Database& db)
        : db_(db), lease_(db.lease()), products_(lease_.connection().cache, lease_, db.where()),
          view_(StoredView{&lease_, &db.where()}),
          messages_(lease_, db.where()), commit_(products_.loaded(), view_.changes(), messages_) {}
    UnitOfWork(const UnitOfWork&) = delete;
    UnitOfWork& operator=(const UnitOfWork&) = delete;
    ~UnitOfWork() { rollback(); }

    Repository& products() noexcept { return products_; }
    View& allocations() noexcept { return view_; }
    ProcessedMessages& messages() noexcept { return messages_; }

    void commit() {
        commit_.commit([this](auto&& write) {
            lease_.guarded(db_.where(), "commit failed, nothing was written", [&] {
                // A connection the server closed since the last lookup fails here, before BEGIN: libpqxx 6.4 leaks
                // the result of a BEGIN that fails.
                if (lease_.connection().closed_while_idle()) {
                    throw pqxx::broken_connection("the server closed the connection");
                }
                pqxx::work tx(lease_.db());
                CommitRows rows{this, &tx};
                write(rows);
                tx.commit();
            });
        });
    }

    /// Nothing to undo in the database: a transaction lives only inside commit(), which aborts it on failure.
    void rollback() noexcept { commit_.rollback(); }

    std::vector<events::Event> collect_new_events() { return commit_.collect_new_events(); }
    std::vector<ports::OutboxMessage> collect_outbox() { return commit_.collect_outbox(); }

private:
    void write_product(pqxx::transaction_base& tx, allocation::detail::LoadedProduct& entry) {
        products_.tables().write(tx, entry);
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

}  // namespace allocation::postgres
