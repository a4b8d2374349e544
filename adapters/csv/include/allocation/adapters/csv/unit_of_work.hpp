// The CSV UnitOfWork and its factory: the in-memory unit of work of the directory's store, whose commit also
// rewrites the directory's files (Options::save_on_commit).
#pragma once

#include <vector>

#include "allocation/adapters/csv/directory.hpp"
#include "allocation/adapters/memory/memory.hpp"
#include "allocation/ports/unit_of_work.hpp"

namespace allocation::csv {

/// The repository of a CSV unit of work is the in-memory one over the directory's store: every lookup gives the
/// whole product, loaded when the directory was opened.
using Repository = memory::Repository;
static_assert(ports::diagnose_repository<Repository>());

/// Holds the directory's store lock from construction to destruction (memory::UnitOfWork). commit() writes
/// batches.csv and allocations.csv atomically (write_atomically) before it keeps the changes in memory, so a
/// write that fails commits nothing.
class UnitOfWork {
public:
    explicit UnitOfWork(Directory& directory) : directory_(directory), work_(directory.store_) {}
    UnitOfWork(const UnitOfWork&) = delete;
    UnitOfWork& operator=(const UnitOfWork&) = delete;

    Repository& products() noexcept { return work_.products(); }
    memory::UnitOfWork::View& allocations() noexcept { return work_.allocations(); }
    memory::ProcessedMessages& messages() noexcept { return work_.messages(); }

    void commit() {
        directory_.committing(work_.products().seen());
        work_.commit();
    }
    void rollback() noexcept { work_.rollback(); }
    memory::UnitOfWork::Savepoint savepoint() const { return work_.savepoint(); }
    void rollback_to(const memory::UnitOfWork::Savepoint& point) noexcept { work_.rollback_to(point); }
    std::vector<events::Event> collect_new_events() { return work_.collect_new_events(); }
    std::vector<ports::OutboxMessage> collect_outbox() { return work_.collect_outbox(); }

private:
    Directory& directory_;
    memory::UnitOfWork work_;
};

static_assert(ports::diagnose_unit_of_work<UnitOfWork>());
static_assert(ports::RecordsProcessedMessages<UnitOfWork>);
static_assert(ports::Savepoints<UnitOfWork>);

/// Makes a unit of work over one open directory. Cheap to copy; every copy refers to the same directory.
using UnitOfWorkFactory = ports::BasicUnitOfWorkFactory<UnitOfWork, Directory>;

static_assert(ports::diagnose_unit_of_work_factory<UnitOfWorkFactory>());

}  // namespace allocation::csv
