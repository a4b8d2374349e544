// What leaves the service after a commit: the outbox's rows, delivered at least once by a relay to Redis (the
// stream allocation:line_allocated, then the book's channel line_allocated) and to the notifier (email with
// --smtp, the log otherwise); or, with --outbox off, the bus's own delivery right after the commit.
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

inline constexpr std::string_view allocated_stream = "allocation:line_allocated";
inline constexpr std::string_view allocated_channel = "line_allocated";

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

/// With `--outbox off`, the bus's notifier and publisher: each event right after the commit that raised it, once,
/// and lost when that fails (the book's at-most-once way; Allocated on the channel line_allocated only, not on the
/// stream). With the outbox on it does nothing: the relay delivers.
class AfterCommit {
public:
    AfterCommit(const DeliveryOptions& options, bool active) {
        if (!active) return;
        notifier_.emplace(options);
#if ALLOCATION_SERVER_WITH_REDIS
        if (!options.redis.empty()) redis_.emplace(redis::parse_endpoint(options.redis));
#endif
    }
    void send(std::string_view destination, std::string_view message) {
        if (notifier_) notifier_->send(destination, message);
    }
    void publish([[maybe_unused]] std::string_view channel, [[maybe_unused]] const events::Event& event) {
#if ALLOCATION_SERVER_WITH_REDIS
        if (redis_) redis_->publish(channel, event);
#endif
    }

private:
    std::optional<ServiceNotifier> notifier_;
#if ALLOCATION_SERVER_WITH_REDIS
    std::optional<redis::Publisher> redis_;
#endif
};

static_assert(ports::Notifier<AfterCommit> && ports::EventPublisher<AfterCommit>);

/// The relay over the service's outbox, with its handlers. Allocated rows go to Redis when there is one (and
/// are simply done when there is none); OutOfStock rows to the notifier. A failure is logged and retried.
template <ports::Outbox O>
class Delivery {
public:
    /// `maintenance` runs on the relay's thread every `maintenance_every` (the purge).
    Delivery(O& outbox, const DeliveryOptions& options, std::function<void()> maintenance = {},
             std::chrono::milliseconds maintenance_every = std::chrono::hours(1))
        : notifier_(options), stream_max_length_(options.stream_max_length),
          relay_(outbox, relay_options(std::move(maintenance), maintenance_every)) {
#if ALLOCATION_SERVER_WITH_REDIS
        if (!options.redis.empty()) redis_.emplace(redis::parse_endpoint(options.redis));
#else
        if (!options.redis.empty()) throw Error("this build has no Redis support: --redis cannot be used");
#endif
        relay_.on("Allocated", [this](const ports::OutboxMessage& row) { publish_allocated(row); });
        relay_.on("OutOfStock", notify_out_of_stock(notifier_));
    }

    void start() { relay_.start(); }
    void stop() noexcept { relay_.stop(); }

private:
    static RelayOptions relay_options(std::function<void()> maintenance, std::chrono::milliseconds maintenance_every) {
        RelayOptions options;
        options.maintenance = std::move(maintenance);
        options.maintenance_every = maintenance_every;
        options.batch_size = 512;
        // Looks for rows this often rather than being woken by each commit: on SQLite a look is a write
        // transaction, and under load one look takes the rows of many commits.
        options.idle_wait = std::chrono::milliseconds(20);
        options.on_error = [](std::string_view doing, const std::exception& error) {
            log_line(fmt::format("relay: {}: {}", doing, error.what()));
        };
        return options;
    }

    void publish_allocated([[maybe_unused]] const ports::OutboxMessage& row) {
#if ALLOCATION_SERVER_WITH_REDIS
        if (!redis_) return;
        redis_->append(allocated_stream, row.id, row.payload, stream_max_length_);  // the durable one first
        redis_->publish_json(allocated_channel, row.payload);
#endif
    }

    ServiceNotifier notifier_;
    [[maybe_unused]] std::size_t stream_max_length_;
#if ALLOCATION_SERVER_WITH_REDIS
    std::optional<redis::Publisher> redis_;
#endif
    Relay<O> relay_;  // last: its thread uses everything above
};

}  // namespace allocation::service
