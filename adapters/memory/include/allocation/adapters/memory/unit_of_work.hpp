// In-memory UnitOfWork and its factory: commit keeps the changes (and the outbox rows), rollback undoes exactly them.
#pragma once

#include <cstddef>
#include <mutex>
#include <utility>
#include <vector>

#include "allocation/adapters/memory/processed_messages.hpp"
#include "allocation/adapters/memory/repository.hpp"
#include "allocation/adapters/memory/store.hpp"
#include "allocation/domain/events.hpp"
#include "allocation/ports/outbox.hpp"
#include "allocation/ports/unit_of_work.hpp"
#include "allocation/view_changes.hpp"

namespace allocation::memory {

/// Holds the store's lock from construction to destruction, so units of work on several threads take
/// turns and never see each other's uncommitted changes. Its read-model changes, and those its products'
/// events call for, reach the store's view on commit, under that lock; so do the message ids recorded through
/// messages() (ports::RecordsProcessedMessages).
class UnitOfWork {
public:
    using View = PendingAllocationsView<const AllocationsView&, ViewChanges&>;

    /// Throws StorageError when this thread already has a unit of work open on the store (it would deadlock).
    explicit UnitOfWork(Store& store)
        : lock_(store, "cannot start a unit of work"), store_(store), products_(store),
          view_(store.allocations_, store.view_changes_), messages_(store.processed_) {}
    UnitOfWork(const UnitOfWork&) = delete;
    UnitOfWork& operator=(const UnitOfWork&) = delete;
    ~UnitOfWork() { rollback(); }

    Repository& products() noexcept { return products_; }
    View& allocations() noexcept { return view_; }
    ProcessedMessages& messages() noexcept { return messages_; }

    /// Keeps the products' changes, appends to the outbox the rows of their events that leave the process, and
    /// stores in the read model what their events say, with the changes made through allocations(), all under
    /// the store's lock.
    void commit() {
        store_.outbox_.append(products_.seen(), ports::OutboxClock::now(), outbox_);
        view_.changes().apply_to(store_.allocations_);
        project_events(products_.seen(), store_.allocations_);
        messages_.commit_to(store_.processed_);
        products_.commit(events_);
        view_.changes().clear();
    }

    void rollback() noexcept {
        // Rows already committed stay for collect_outbox(): the outbox keeps them either way.
        products_.rollback();
        view_.changes().clear();
        messages_.rollback();
    }

    /// A point to come back to within what is not committed yet (ports::Savepoints).
    struct Savepoint {
        Repository::Savepoint products;
        std::size_t view = 0;
        std::size_t messages = 0;
    };
    Savepoint savepoint() const { return {products_.savepoint(), view_.changes().size(), messages_.recorded()}; }
    void rollback_to(const Savepoint& point) noexcept {
        products_.rollback_to(point.products);
        view_.changes().forget_after(point.view);
        messages_.forget_after(point.messages);
    }

    std::vector<events::Event> collect_new_events() { return std::exchange(events_, {}); }
    std::vector<ports::OutboxMessage> collect_outbox() { return std::exchange(outbox_, {}); }

private:
    Store::Lock lock_;
    Store& store_;
    Repository products_;
    View view_;
    ProcessedMessages messages_;
    std::vector<events::Event> events_;
    std::vector<ports::OutboxMessage> outbox_;  // the rows its commits stored, not yet collected
};

static_assert(ports::diagnose_unit_of_work<UnitOfWork>());
static_assert(ports::RecordsProcessedMessages<UnitOfWork>);
static_assert(ports::Savepoints<UnitOfWork>);

/// Makes a unit of work over one store. Cheap to copy; every copy refers to the same store.
using UnitOfWorkFactory = ports::BasicUnitOfWorkFactory<UnitOfWork, Store>;

static_assert(ports::diagnose_unit_of_work_factory<UnitOfWorkFactory>());

}  // namespace allocation::memory
