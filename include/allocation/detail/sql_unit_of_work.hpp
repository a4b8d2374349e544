// The skeleton of an SQL adapter's unit of work, written once: the connection it holds, the products, the
// allocations view and the processed message ids it hands out, and the commit they share; each adapter supplies its
// tables, its stored view, its message ids, and the transaction its commit runs in.
#pragma once

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "allocation/detail/loaded_products.hpp"
#include "allocation/detail/sql_commit.hpp"
#include "allocation/detail/sql_repository.hpp"
#include "allocation/domain/events.hpp"
#include "allocation/ports/outbox.hpp"
#include "allocation/view_changes.hpp"

namespace allocation::detail {

/// What an SQL unit of work holds, made in this order (each part refers to those before it), and the members of
/// ports::UnitOfWork that only hand them out. The adapter's unit of work derives from it and adds commit(), which
/// runs `commit_` (allocation::detail::SqlCommit) with its statements in its transaction, a destructor that calls
/// rollback(), and its own rollback() where its database has more to undo. The parts are the adapter's:
/// - `Lease`: the connection the unit of work holds for its whole life; `connection().cache` is its ProductCache;
/// - `Tables`: the products' tables (allocation::detail::SqlRepository), made from `(lease, where)`;
/// - `StoredView`: the committed allocations view, read through the lease's connection, made from `(lease, where)`;
/// - `Messages`: its ProcessedMessages, with `empty()` and `clear()`, made from `(lease, where, messages_args...)`.
/// `where` is how messages name the database (its path, or its URI without the password); it outlives the unit of
/// work.
template <typename Lease, typename Tables, typename StoredView, typename Messages>
class SqlUnitOfWork {
public:
    using Repository = SqlRepository<Tables>;
    using View = PendingAllocationsView<StoredView>;

    SqlUnitOfWork(const SqlUnitOfWork&) = delete;
    SqlUnitOfWork& operator=(const SqlUnitOfWork&) = delete;

    Repository& products() noexcept { return products_; }
    View& allocations() noexcept { return view_; }
    Messages& messages() noexcept { return messages_; }

    /// A point to come back to within what is not committed yet (ports::Savepoints): where the products, the view
    /// changes and the recorded message ids stood. Nothing is written before commit(), so nothing in the database.
    struct Savepoint {
        ProductsSavepoint products;
        std::size_t view = 0;
        std::size_t messages = 0;
    };
    Savepoint savepoint() const {
        return {products_.loaded().savepoint(), view_.changes().size(), messages_.recorded()};
    }
    void rollback_to(const Savepoint& point) noexcept {
        products_.loaded().rollback_to(point.products);
        view_.changes().forget_after(point.view);
        messages_.forget_after(point.messages);
    }

    /// Forgets what was not committed. A transaction that outlives commit() is the adapter's to end.
    void rollback() noexcept { commit_.rollback(); }

    std::vector<events::Event> collect_new_events() { return commit_.collect_new_events(); }
    std::vector<ports::OutboxMessage> collect_outbox() { return commit_.collect_outbox(); }

protected:
    template <typename... MessagesArgs>
    SqlUnitOfWork(Lease lease, const std::string& where, MessagesArgs&&... messages_args)
        : lease_(std::move(lease)), products_(lease_.connection().cache, lease_, where),
          view_(StoredView(lease_, where)), messages_(lease_, where, std::forward<MessagesArgs>(messages_args)...),
          commit_(products_.loaded(), view_.changes(), messages_) {}
    ~SqlUnitOfWork() = default;

    Lease lease_;
    Repository products_;
    View view_;
    Messages messages_;
    SqlCommit<LoadedProducts<Tables>, Messages> commit_;
};

}  // namespace allocation::detail
