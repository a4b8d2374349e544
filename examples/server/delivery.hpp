// What leaves the service: the outbox's rows, handed right after each commit to the book's outbound handlers (Redis:
// the stream allocation:line_allocated, then the channel line_allocated; the notifier: email with --smtp, the log
// otherwise), and delivered at least once by the relay's thread when that failed.
#pragma once

#include <charconv>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <fmt/format.h>

#include "allocation/allocation.hpp"
#include "allocation/service_layer/relay.hpp"
#include "logging.hpp"

#if ALLOCATION_SERVER_WITH_REDIS
#include "allocation/adapters/redis/redis.hpp"
#endif
#if ALLOCATION_SERVER_WITH_EMAIL
#include "allocation/adapters/email/smtp.hpp"
#endif

namespace allocation::service {

struct DeliveryOptions {
    std::string redis;  // HOST:PORT, or empty
    std::string smtp;   // HOST:PORT, or empty
    std::size_t stream_max_length = 1000000;
};

/// "HOST:PORT" as an smtp:// URL; throws allocation::Error naming what is wrong.
inline std::string smtp_url(std::string_view address) {
    const auto colon = address.rfind(':');
    int port = 0;
    const auto digits = colon == std::string_view::npos ? std::string_view{} : address.substr(colon + 1);
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
    if (colon == 0 || digits.empty() || ec != std::errc{} || end != digits.data() + digits.size() || port < 1 ||
        port > 65535) {
        throw Error(fmt::format("--smtp must be HOST:PORT with a port from 1 to 65535, got '{}'", address));
    }
    return fmt::format("smtp://{}", address);
}

/// The book's notifier: email when the service has an SMTP server, a log line otherwise.
class ServiceNotifier {
public:
    explicit ServiceNotifier(const DeliveryOptions& options) {
        if (options.smtp.empty()) return;
#if ALLOCATION_SERVER_WITH_EMAIL
        smtp_.emplace(email::SmtpOptions{.url = smtp_url(options.smtp)});
#else
        throw Error("this build has no email support: --smtp cannot be used");
#endif
    }
    void send(std::string_view destination, std::string_view message) {
#if ALLOCATION_SERVER_WITH_EMAIL
        if (smtp_) return smtp_->send(destination, message);
#endif
        log_.send(destination, message);
    }

private:
#if ALLOCATION_SERVER_WITH_EMAIL
    std::optional<email::SmtpNotifier> smtp_;
#endif
    LogNotifier log_;
};

/// The book's publisher: Redis when the service has one (redis::Publisher: the stream, then the channel), nobody
/// otherwise.
class ServicePublisher {
public:
    explicit ServicePublisher(const DeliveryOptions& options) {
        if (options.redis.empty()) return;
#if ALLOCATION_SERVER_WITH_REDIS
        redis_.emplace(redis::parse_endpoint(options.redis),
                       redis::PublisherOptions{.stream_max_length = options.stream_max_length});
#else
        throw Error("this build has no Redis support: --redis cannot be used");
#endif
    }
    void publish([[maybe_unused]] std::string_view channel, [[maybe_unused]] const ports::OutboxMessage& message) {
#if ALLOCATION_SERVER_WITH_REDIS
        if (redis_) redis_->publish(channel, message);
#endif
    }

private:
#if ALLOCATION_SERVER_WITH_REDIS
    std::optional<redis::Publisher> redis_;
#endif
};

/// The service's Delivery: the relay over its outbox with the book's outbound handlers. The bus hands it each
/// commit's rows at once; its thread delivers what failed, after the backoff. A failure is logged.
template <ports::Outbox O>
class OutboundDelivery {
public:
    /// `maintenance` runs on the relay's thread every `maintenance_every` (the purge).
    OutboundDelivery(O& outbox, const DeliveryOptions& options, std::function<void()> maintenance = {},
             std::chrono::milliseconds maintenance_every = std::chrono::hours(1))
        : notifier_(options), publisher_(options),
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
