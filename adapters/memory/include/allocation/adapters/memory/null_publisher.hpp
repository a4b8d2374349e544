// The publisher that publishes nowhere: for programs with no message broker configured, and for tests.
#pragma once

#include <string_view>

#include "allocation/ports/outbox.hpp"
#include "allocation/ports/publisher.hpp"

namespace allocation::memory {

/// Drops every message: the one no-op EventPublisher, so that programs without a broker need not write their own.
class NullPublisher {
public:
    void publish(std::string_view /*channel*/, const ports::OutboxMessage& /*message*/) noexcept {}
};

static_assert(ports::diagnose_event_publisher<NullPublisher>());

}  // namespace allocation::memory
