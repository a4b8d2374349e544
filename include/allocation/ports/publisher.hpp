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

/// Names, one sentence per event type, what keeps P from being an EventPublisher.
/// Beside an adapter: `static_assert(diagnose_event_publisher<P>());`
template <typename P>
consteval bool diagnose_event_publisher() {
    static_assert(requires(P& publisher, std::string_view channel, const events::Allocated& event) {
        publisher.publish(channel, event);
    }, "an EventPublisher needs `void publish(std::string_view channel, const events::Allocated&)` "
       "(or one member taking `const events::Event&`)");
    static_assert(requires(P& publisher, std::string_view channel, const events::Deallocated& event) {
        publisher.publish(channel, event);
    }, "an EventPublisher needs `void publish(std::string_view channel, const events::Deallocated&)`");
    static_assert(requires(P& publisher, std::string_view channel, const events::OutOfStock& event) {
        publisher.publish(channel, event);
    }, "an EventPublisher needs `void publish(std::string_view channel, const events::OutOfStock&)`");
    return EventPublisher<P>;
}

}  // namespace allocation::ports
