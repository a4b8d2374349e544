// The processed-messages port: the ids of the messages a unit of work has applied, for idempotent consumers.
#pragma once

#include <concepts>
#include <string>
#include <string_view>
#include <type_traits>

namespace allocation::ports {

/// The ids of the messages already applied, as one unit of work sees them.
///
/// - `seen(id)` is true when a committed unit of work recorded `id`, or when this one did and has not rolled back.
/// - `record(id)` marks `id` applied, in the unit of work's transaction: its `commit()` stores the id together with
///   the message's effect, or neither; `rollback()` forgets it. A commit that finds `id` recorded meanwhile by
///   another unit of work throws ConcurrencyError and writes nothing (the bus tries again, and then sees it).
template <typename M>
concept ProcessedMessages = requires(M& messages, const M& const_messages, std::string_view id) {
    { const_messages.seen(id) } -> std::same_as<bool>;
    { messages.record(id) };
};

/// An optional capability of a unit of work (a UnitOfWork need not have it): `messages()` returns, by reference,
/// its ProcessedMessages. The memory and SQLite adapters have it; a handler given a message id by a unit of work
/// without it refuses the message rather than applying it without the guarantee (handlers::first_delivery).
template <typename U>
concept RecordsProcessedMessages = requires(U& uow) {
    { uow.messages() } -> std::same_as<std::remove_cvref_t<decltype(uow.messages())>&>;
    requires ProcessedMessages<std::remove_cvref_t<decltype(uow.messages())>>;
};

}  // namespace allocation::ports
