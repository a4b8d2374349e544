// What leaves the service: the outbox's rows, handed right after each commit to the book's outbound handlers (Redis:
// the stream allocation:line_allocated, then the channel line_allocated; the notifier: email with --smtp, the log
// otherwise), and delivered at least once by the relay's thread when that failed. Which senders exist is the
// parts' business (part_redis.cpp, part_email.cpp); this file knows none of their adapters.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "allocation/allocation.hpp"
#include "logging.hpp"

namespace allocation::service {

/// Sends a notification (an email) or publishes an outbox message (to Redis); empty when not configured.
using Send = std::function<void(std::string_view destination, std::string_view message)>;
using Publish = std::function<void(std::string_view channel, const ports::OutboxMessage& message)>;

/// The senders the options configured: the first one a part made, per kind.
struct Senders {
    Send notify;
    Publish publish;
};

/// The book's notifier: the configured sender (email with --smtp), a log line otherwise.
class ServiceNotifier {
public:
    explicit ServiceNotifier(Send send) : send_(std::move(send)) {}
    void send(std::string_view destination, std::string_view message) {
        if (send_) return send_(destination, message);
        log_.send(destination, message);
    }

private:
    Send send_;
    LogNotifier log_;
};

/// The book's publisher: the configured one (Redis with --redis: the stream, then the channel), nobody otherwise.
class ServicePublisher {
public:
    explicit ServicePublisher(Publish publish) : publish_(std::move(publish)) {}
    void publish(std::string_view channel, const ports::OutboxMessage& message) {
        if (publish_) publish_(channel, message);
    }

private:
    Publish publish_;
};

static_assert(ports::Notifier<ServiceNotifier> && ports::EventPublisher<ServicePublisher>);

/// The service's Delivery: the relay over its outbox with the book's outbound handlers. The bus hands it each
/// commit's rows at once; its thread delivers what failed, after the backoff. A failure is logged.
template <ports::Outbox O>
class OutboundDelivery {
public:
    /// `maintenance` runs on the relay's thread every `maintenance_every` (the purge).
    OutboundDelivery(O& outbox, Senders senders, std::function<void()> maintenance = {},
                     std::chrono::milliseconds maintenance_every = std::chrono::hours(1))
        : notifier_(std::move(senders.notify)), publisher_(std::move(senders.publish)),
          relay_(outbox, handlers::Outbound(notifier_, publisher_), relay_options(std::move(maintenance), maintenance_every)) {}

    void deliver(std::vector<ports::OutboxMessage> rows) noexcept { relay_.deliver(std::move(rows)); }
    void start() { relay_.start(); }
    void stop() noexcept { relay_.stop(); }

private:
    static RelayOptions relay_options(std::function<void()> maintenance, std::chrono::milliseconds maintenance_every) {
        RelayOptions options;
        options.maintenance = std::move(maintenance);
        options.maintenance_every = maintenance_every;
        options.batch_size = 512;
        options.on_error = [](std::string_view doing, const std::exception& error) {
            log_line(fmt::format("relay: {}: {}", doing, error.what()));
        };
        return options;
    }

    ServiceNotifier notifier_;
    ServicePublisher publisher_;
    Relay<O, handlers::Outbound<ServiceNotifier, ServicePublisher>> relay_;  // last: its thread uses the above
};

}  // namespace allocation::service
