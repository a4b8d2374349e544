// The purge: what delivery and deduplication no longer need, deleted once it is older than a retention.
#pragma once

#include <chrono>
#include <cstddef>
#include <utility>

#include "allocation/ports/outbox.hpp"
#include "allocation/ports/processed_messages.hpp"
#include "allocation/ports/unit_of_work.hpp"

namespace allocation {

/// What one purge deleted.
struct Purged {
    std::size_t outbox_rows = 0;
    std::size_t message_ids = 0;
    friend bool operator==(const Purged&, const Purged&) = default;
};

/// Deletes the outbox rows delivered before `before` (ports::Outbox::purge_delivered: each product's newest row
/// stays) and the processed message ids committed before it (ports::ProcessedMessages::purge, through a unit of
/// work of `uow_factory` that changes nothing else). The ids' retention is the deduplication window: a message
/// delivered again after it is applied again, so `before` must lie further back than any redelivery can.
template <ports::Outbox O, ports::UnitOfWorkFactory F>
    requires ports::RecordsProcessedMessages<decltype(std::declval<F&>()())>
Purged purge(O& outbox, F& uow_factory, ports::OutboxTime before) {
    Purged purged;
    purged.outbox_rows = outbox.purge_delivered(before);
    auto uow = uow_factory();
    purged.message_ids = uow.messages().purge(before);
    return purged;
}

}  // namespace allocation
