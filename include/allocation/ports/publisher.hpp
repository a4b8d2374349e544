// The EventPublisher port: hands domain events to the outside world (the book uses Redis pub/sub).
#pragma once

#include <string_view>

#include "allocation/domain/events.hpp"

namespace allocation::ports {

/// `publish(channel, event)` sends one event to a named channel, for every event type (a single member
/// taking `const events::Event&` does). It may be called from several threads at once. A failure is thrown,
/// and the bus reports it; the committed change that raised the event stays committed.
template <typename P>
concept EventPublisher = requires(P& publisher, std::string_view channel, const events::Allocated& allocated,
                                  const events::Deallocated& deallocated, const events::OutOfStock& out_of_stock) {
    { publisher.publish(channel, allocated) };
    { publisher.publish(channel, deallocated) };
    { publisher.publish(channel, out_of_stock) };
};

}  // namespace allocation::ports
