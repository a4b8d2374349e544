// PostgreSQL UnitOfWork and its factory: reads outside any write transaction, commits in one READ COMMITTED
// transaction with a compare-and-set of each changed product's version.
#pragma once

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
        return lease_->guarded(*where_, "reading the allocations view", [&] {
            pqxx::nontransaction tx(lease_->db());
            return view_rows(tx, std::string(orderid));
        });
    }

private:
    Lease* lease_;
    const std::string* where_;
};

}  // namespace detail

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
/// ConcurrencyError. Nothing to undo in the database on rollback(): a transaction lives only inside commit(), which
/// aborts it on failure.
class UnitOfWork : public allocation::detail::SqlUnitOfWork<detail::Lease, detail::ProductTables, detail::LeasedView,
                                                            ProcessedMessages> {
    /// The commit's statements (allocation::detail::CommitStatements), in its transaction.
    struct CommitRows {
        UnitOfWork* uow;
        pqxx::transaction_base* tx;
        void write(allocation::detail::LoadedProduct& entry) { uow->products_.tables().write(*tx, entry); }
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
    explicit UnitOfWork(Database& db) : SqlUnitOfWork(db.lease(), db.where()), db_(db) {}
    ~UnitOfWork() { rollback(); }

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

private:
    Database& db_;
};

static_assert(ports::diagnose_unit_of_work<UnitOfWork>());
static_assert(ports::RecordsProcessedMessages<UnitOfWork>);

/// Makes units of work over one database. Cheap to copy; every copy refers to the same Database, which must
/// outlive it. May be called from any number of threads: each unit of work gets a connection of its own.
using UnitOfWorkFactory = ports::BasicUnitOfWorkFactory<UnitOfWork, Database>;

static_assert(ports::diagnose_unit_of_work_factory<UnitOfWorkFactory>());

}  // namespace allocation::postgres
