// The EventPublisher port: hands the events that leave the process to the outside world (the book uses Redis
// pub/sub), one outbox message at a time.
#pragma once

#include <string_view>

#include "allocation/ports/outbox.hpp"

namespace allocation::ports {

/// `publish(channel, message)` sends one event to a named channel: `message.event`, with `message.id` as its message
/// id (a consumer applies each id once: the same message may come again after a failure or a crash). It may be
/// called from several threads at once. A failure is thrown; the row stays in the outbox and is tried again.
template <typename P>
concept EventPublisher = requires(P& publisher, std::string_view channel, const OutboxMessage& message) {
    { publisher.publish(channel, message) };
};

/// Names what keeps P from being an EventPublisher. Beside an adapter: `static_assert(diagnose_event_publisher<P>());`
template <typename P>
consteval bool diagnose_event_publisher() {
    static_assert(requires(P& publisher, std::string_view channel, const OutboxMessage& message) {
        publisher.publish(channel, message);
    }, "an EventPublisher needs `void publish(std::string_view channel, const ports::OutboxMessage& message)`");
    return EventPublisher<P>;
}

}  // namespace allocation::ports
