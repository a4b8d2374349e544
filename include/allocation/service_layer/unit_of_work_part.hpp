// One command's part of a unit of work that several commands share, each in a savepoint of its own.
#pragma once

#include <utility>
#include <vector>

#include "allocation/domain/events.hpp"
#include "allocation/ports/outbox.hpp"
#include "allocation/ports/processed_messages.hpp"
#include "allocation/ports/unit_of_work.hpp"

namespace allocation::detail {

/// What a handler sees of a shared unit of work (MessageBus::handle_group): the same products, view and message
/// ids, from a savepoint taken when the part begins. Its commit() keeps what the part did, for the one commit of
/// the whole unit of work after the last part; its rollback(), or its end without a commit, undoes only what the
/// part did since its last commit(). Its events and outbox rows are the whole unit of work's, handed over there.
template <ports::Savepoints U>
class UnitOfWorkPart {
public:
    explicit UnitOfWorkPart(U& uow) : uow_(uow), start_(uow.savepoint()) {}
    UnitOfWorkPart(const UnitOfWorkPart&) = delete;
    UnitOfWorkPart& operator=(const UnitOfWorkPart&) = delete;
    ~UnitOfWorkPart() { rollback(); }

    auto& products() noexcept { return uow_.products(); }
    auto& allocations() noexcept { return uow_.allocations(); }
    auto& messages() noexcept
        requires ports::RecordsProcessedMessages<U>
    {
        return uow_.messages();
    }

    void commit() { start_ = uow_.savepoint(); }
    void rollback() noexcept { uow_.rollback_to(start_); }

    /// Handed over by the whole unit of work after its commit, never by a part.
    std::vector<events::Event> collect_new_events() { return {}; }
    std::vector<ports::OutboxMessage> collect_outbox() { return {}; }

private:
    U& uow_;
    decltype(std::declval<const U&>().savepoint()) start_;
};

}  // namespace allocation::detail
