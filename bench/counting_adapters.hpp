// A notifier and a publisher that only count: a recording one would measure vector growth, not the bus.
#pragma once

#include <atomic>
#include <string_view>

#include "allocation/ports/notifications.hpp"
#include "allocation/ports/outbox.hpp"
#include "allocation/ports/publisher.hpp"

namespace allocation::bench {

struct CountingPublisher {
    std::atomic<long> published{0};
    void publish(std::string_view, const ports::OutboxMessage&) { published.fetch_add(1, std::memory_order_relaxed); }
};
static_assert(ports::EventPublisher<CountingPublisher>);

struct CountingNotifier {
    std::atomic<long> sent{0};
    void send(std::string_view, std::string_view) { sent.fetch_add(1, std::memory_order_relaxed); }
};
static_assert(ports::Notifier<CountingNotifier>);

}  // namespace allocation::bench
