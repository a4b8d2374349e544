// The processed-messages port: the ids of the messages a unit of work has applied, for idempotent consumers.
#pragma once

#include <chrono>
#include <concepts>
#include <cstddef>
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
/// - `purge(recorded_before)` forgets, at once and for good, the committed ids whose commit was before
///   `recorded_before` (wall-clock time), and returns how many: it ends the deduplication window there. A message
///   whose id was forgotten is applied again if it comes again, so the window must outlast every redelivery (a
///   stream's pending entries, their claims and retries). It is not part of the unit of work's transaction (a
///   rollback does not undo it), and ids recorded by this unit of work and not yet committed stay.
template <typename M>
concept ProcessedMessages = requires(M& messages, const M& const_messages, std::string_view id,
                                     std::chrono::system_clock::time_point before) {
    { const_messages.seen(id) } -> std::same_as<bool>;
    { messages.record(id) };
    { messages.purge(before) } -> std::same_as<std::size_t>;
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
