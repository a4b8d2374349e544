// The UnitOfWork port: one atomic scope of work over the repository, and the factory that makes one per message.
#pragma once

#include <concepts>
#include <type_traits>
#include <utility>
#include <vector>

#include "allocation/domain/events.hpp"
#include "allocation/ports/outbox.hpp"
#include "allocation/ports/repository.hpp"
#include "allocation/ports/views.hpp"

namespace allocation::ports {

/// A unit of work is a scope: read and change products through `products()`, then `commit()`.
///
/// - `commit()` makes every change of the products it handed out durable at once, or none of them. If a
///   product was changed by someone else since it was read, it throws ConcurrencyError and writes nothing.
///   A committed unit of work may be used again; the next commit stores what changed after this one.
/// - `rollback()` undoes every change since the last commit and never throws. The destructor rolls back
///   whatever was not committed, so leaving the scope early (or by an exception) loses nothing committed
///   and keeps nothing uncommitted.
/// - `collect_new_events()` hands over, once and oldest first, the events raised by committed products.
///   Events of rolled-back work are discarded and never handed over.
/// - `allocations()` is the allocations read model as this unit of work sees it. Its changes are stored by
///   `commit()` together with the products' changes (in the same transaction, where the storage has them)
///   and discarded by `rollback()`, so the read model never disagrees with the products it describes.
/// - `commit()` also stores in the read model what the committed products' events say (allocation::project:
///   Allocated adds its row, Deallocated removes it), whoever changed the products: the bus, a handler called
///   directly, a tool. `allocation::project_events` does it for an adapter.
/// - `commit()` also stores in its storage's outbox (ports::Outbox), in the same transaction, a row for each event
///   of the committed products that leaves the process (allocation::leaves_the_process); `rollback()` leaves
///   none. `allocation::store_outbound` makes the rows for an adapter. The outbox is the only way events leave.
/// - `collect_outbox()` hands over, once and oldest first, the rows its commits stored, for their delivery right
///   after the commit (the bus hands them to its Delivery); rows of rolled-back work are never handed over.
/// - A unit of work belongs to one thread; it is neither copied nor shared.
template <typename U>
concept UnitOfWork = !std::copy_constructible<U> && requires(U& uow) {
    { uow.products() } -> std::same_as<std::remove_cvref_t<decltype(uow.products())>&>;
    requires Repository<std::remove_cvref_t<decltype(uow.products())>>;
    { uow.commit() };
    { uow.rollback() } noexcept;
    { uow.collect_new_events() } -> std::same_as<std::vector<events::Event>>;
    { uow.collect_outbox() } -> std::same_as<std::vector<OutboxMessage>>;
    { uow.allocations() } -> std::same_as<std::remove_cvref_t<decltype(uow.allocations())>&>;
    requires AllocationsView<std::remove_cvref_t<decltype(uow.allocations())>>;
};

/// An optional capability of a unit of work (a UnitOfWork need not have it): savepoints.
/// - `savepoint()` remembers where everything not committed yet stands.
/// - `rollback_to(point)` undoes what was done through the unit of work since `point` (products changed or created,
///   view changes, message ids recorded: ports::RecordsProcessedMessages), keeps what came before, and never
///   throws. A point is good until the next commit() or rollback(), or until a rollback_to() an earlier point.
/// With it, the bus runs several commands in one unit of work, each in a savepoint of its own, and commits them
/// once (MessageBus::handle_group).
template <typename U>
concept Savepoints = UnitOfWork<U> && requires(const U& const_uow) { const_uow.savepoint(); } &&
                     requires(U& uow, const decltype(std::declval<const U&>().savepoint())& point) {
                         { uow.rollback_to(point) } noexcept;
                     };

/// Makes a fresh unit of work for each message. It may be called from several threads at once; each call
/// returns a unit of work (and whatever connection it needs) of its own, never shared with another thread.
template <typename F>
concept UnitOfWorkFactory = std::copy_constructible<F> && requires(F& factory) {
    { factory() };
    requires UnitOfWork<decltype(factory())>;
};

/// Names, one sentence per requirement, what keeps U from being a UnitOfWork, and then what keeps its
/// repository and its view from modelling their ports. Beside an adapter: `static_assert(diagnose_unit_of_work<U>());`
template <typename U>
consteval bool diagnose_unit_of_work() {
    static_assert(!std::copy_constructible<U>,
                  "a UnitOfWork must not be copyable (delete its copy constructor): it is one scope of one thread");
    constexpr bool has_products = requires(U& uow) {
        { uow.products() } -> std::same_as<std::remove_cvref_t<decltype(uow.products())>&>;
    };
    static_assert(has_products, "a UnitOfWork needs `Repository& products()`, returning its repository by reference");
    if constexpr (has_products) diagnose_repository<std::remove_cvref_t<decltype(std::declval<U&>().products())>>();
    static_assert(requires(U& uow) { uow.commit(); }, "a UnitOfWork needs `void commit()`");
    static_assert(requires(U& uow) { { uow.rollback() } noexcept; },
                  "a UnitOfWork needs `void rollback() noexcept`: rolling back never throws");
    static_assert(requires(U& uow) {
        { uow.collect_new_events() } -> std::same_as<std::vector<events::Event>>;
    }, "a UnitOfWork needs `std::vector<events::Event> collect_new_events()`");
    static_assert(requires(U& uow) {
        { uow.collect_outbox() } -> std::same_as<std::vector<OutboxMessage>>;
    }, "a UnitOfWork needs `std::vector<ports::OutboxMessage> collect_outbox()`, the outbox rows its commits stored");
    constexpr bool has_view = requires(U& uow) {
        { uow.allocations() } -> std::same_as<std::remove_cvref_t<decltype(uow.allocations())>&>;
    };
    static_assert(has_view, "a UnitOfWork needs `View& allocations()`, returning its read model by reference");
    if constexpr (has_view) diagnose_allocations_view<std::remove_cvref_t<decltype(std::declval<U&>().allocations())>>();
    return UnitOfWork<U>;
}

/// Names what keeps F from being a UnitOfWorkFactory. Beside an adapter:
/// `static_assert(diagnose_unit_of_work_factory<F>());`
template <typename F>
consteval bool diagnose_unit_of_work_factory() {
    static_assert(std::copy_constructible<F>, "a UnitOfWorkFactory must be copyable: the bus keeps a copy");
    constexpr bool callable = requires(F& factory) { factory(); };
    static_assert(callable, "a UnitOfWorkFactory needs `UnitOfWork operator()()`, a fresh unit of work per call");
    if constexpr (callable) diagnose_unit_of_work<decltype(std::declval<F&>()())>();
    return UnitOfWorkFactory<F>;
}

/// The usual factory: a pointer to the adapter's shared storage, and `UoW(storage)` per call. Cheap to copy;
/// every copy refers to the same storage, which must outlive it.
template <typename UoW, typename Storage>
class BasicUnitOfWorkFactory {
public:
    explicit BasicUnitOfWorkFactory(Storage& storage) noexcept : storage_(&storage) {}
    UoW operator()() const { return UoW(*storage_); }

private:
    Storage* storage_;
};

}  // namespace allocation::ports
