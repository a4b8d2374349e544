// The outbound side of a test system: recording notifier and publisher, and the relay over an outbox that hands
// them each commit's rows.
#pragma once

#include <utility>

#include "allocation/adapters/memory/memory.hpp"
#include "allocation/allocation.hpp"

namespace allocation::testing {

template <ports::Outbox O>
struct RecordingDelivery {
    using Outbound = handlers::Outbound<memory::RecordingNotifier, memory::RecordingPublisher>;

    explicit RecordingDelivery(O& outbox, RelayOptions options = {})
        : relay(outbox, Outbound(notifier, publisher), std::move(options)) {}

    memory::RecordingNotifier notifier;
    memory::RecordingPublisher publisher;
    Relay<O, Outbound> relay;
};

}  // namespace allocation::testing
