// allocation-server's Redis part: its flags, and with --redis the consumers of change_batch_quantity (the
// book's channel, and the stream through a consumer group), as components, and the outbound handlers' publisher.
#include <memory>
#include <optional>
#include <string>

#include "allocation/adapters/redis/redis.hpp"
#include "allocation/adapters/redis/stream_consumer.hpp"
#include "logging.hpp"
#include "parts.hpp"

namespace allocation::service {

namespace {

void add_redis_options(const Flags& flag, Options& o) {
    flag("redis", o.redis,
         "Redis HOST:PORT: Allocated events to the stream allocation:line_allocated and the channel line_allocated; "
         "change_batch_quantity commands from that channel");
    flag("stream-max-length", o.stream_max_length, "Entries the stream allocation:line_allocated keeps, about")
        ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 40));
    flag("consumer-name", o.consumer_name,
         "This server's consumer name in the group allocation of the stream allocation:change_batch_quantity; unique "
         "per server and kept across restarts, so that a restart takes back its own pending entries (default: "
         "allocation-server-<port>)");
    flag("claim-idle", o.claim_idle,
         "Seconds an entry of allocation:change_batch_quantity may stay pending with another consumer before this "
         "one claims it")
        ->check(CLI::Range(0.001, 86400.0));
    flag("max-deliveries", o.max_deliveries,
         "Deliveries an entry of allocation:change_batch_quantity gets at most while it fails with a temporary error "
         "(the database busy, a lost race); then it goes to allocation:dead_letter, with the count and the last error")
        ->check(CLI::Range(std::int64_t{1}, std::int64_t{1000000}));
}

void log_redis(std::string_view line) { log_line(line); }

/// The book's channel change_batch_quantity. /ready answers 503 until the subscription is confirmed.
Component channel_consumer(const Options& options, ChangeBatchQuantityHandler handle) {
    auto consumer = std::make_shared<std::optional<redis::Consumer>>();
    return {"redis consumer",
            [consumer, endpoint = options.redis, handle] {
                consumer->emplace(redis::parse_endpoint(endpoint), handle, log_redis);
            },
            [consumer] { (*consumer)->stop(); },
            [consumer](nlohmann::json& body) {
                const bool subscribed = *consumer && (*consumer)->subscribed();
                body["redis"] = subscribed ? "subscribed" : "connecting";
                return subscribed;
            }};
}

/// Consumes allocation:change_batch_quantity through the group allocation, applying each message id once (the
/// bus's unit of work records it) and acknowledging it after the commit. Never makes the service unready.
Component stream_consumer(const Options& options, unsigned short port, ChangeBatchQuantityHandler handle) {
    const std::string name =
        options.consumer_name.empty() ? "allocation-server-" + std::to_string(port) : options.consumer_name;
    redis::StreamConsumerOptions stream_options;
    stream_options.claim_idle = millis(options.claim_idle);
    stream_options.max_deliveries = options.max_deliveries;
    auto consumer = std::make_shared<std::optional<redis::StreamConsumer>>();
    return {"redis stream consumer",
            [consumer, endpoint = options.redis, name, handle, stream_options] {
                consumer->emplace(redis::parse_endpoint(endpoint), name, handle, log_redis, stream_options);
            },
            [consumer] { (*consumer)->stop(); },
            [consumer](nlohmann::json& body) {
                body["redis_stream"] = *consumer && (*consumer)->reading() ? "reading" : "connecting";
                return true;
            }};
}

void add_redis_consumers(Components& components, const Options& options, unsigned short port,
                         ChangeBatchQuantityHandler handle) {
    if (options.redis.empty()) return;
    components.add(channel_consumer(options, handle));
    components.add(stream_consumer(options, port, std::move(handle)));
}

/// With --redis, the outbound handlers' publisher: the stream allocation:line_allocated, then the book's channel.
Publish redis_publisher(const Options& options) {
    if (options.redis.empty()) return {};
    auto publisher = std::make_shared<redis::Publisher>(
        redis::parse_endpoint(options.redis), redis::PublisherOptions{.stream_max_length = options.stream_max_length});
    return [publisher](std::string_view channel, const ports::OutboxMessage& message) {
        publisher->publish(channel, message);
    };
}

}  // namespace

Part redis_part() {
    return {"redis", add_redis_options, {}, {}, add_redis_consumers, {}, redis_publisher};
}

}  // namespace allocation::service
