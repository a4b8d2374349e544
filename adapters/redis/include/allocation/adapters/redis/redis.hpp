// The Redis adapter: publishes domain events on Redis channels and turns messages of a channel into commands.
// The book's external message format: JSON objects, one per message.
#pragma once

#include <poll.h>

#include <cerrno>
#include <atomic>
#include <charconv>
#include <cstdint>
#include <chrono>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <stop_token>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include <hiredis/hiredis.h>
#include <nlohmann/json.hpp>

#include "allocation/domain/commands.hpp"
#include "allocation/serialisation/json_fields.hpp"
#include "allocation/domain/errors.hpp"
#include "allocation/domain/events.hpp"
#include "allocation/serialisation/json.hpp"
#include "allocation/domain/model.hpp"
#include "allocation/ports/publisher.hpp"
#include "allocation/service_layer/background.hpp"

namespace allocation::redis {

/// Where a Redis server listens.
struct Endpoint {
    std::string host = "127.0.0.1";
    int port = 6379;
    friend bool operator==(const Endpoint&, const Endpoint&) = default;
};

/// Parses "HOST:PORT" (the port is required, 1..65535). Throws allocation::Error naming what is wrong.
inline Endpoint parse_endpoint(std::string_view text) {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos || colon == 0) {
        throw Error("Redis address must be HOST:PORT, got '" + std::string(text) + "'");
    }
    std::string_view port_text = text.substr(colon + 1);
    int port = 0;
    auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc{} || ptr != port_text.data() + port_text.size() || port < 1 || port > 65535) {
        throw Error("Redis port must be a number between 1 and 65535, got '" + std::string(port_text) + "'");
    }
    return Endpoint{std::string(text.substr(0, colon)), port};
}

/// A message that is not what its channel expects; the consumers log it and skip it, or set it aside.
using MalformedMessage = allocation::MalformedMessage;

/// The book's JSON for an event (allocation::to_json, shared with the outbox's payloads).
using allocation::to_json;

/// Reads the channel's JSON, {"batchref": "...", "qty": N} (0 cancels the batch), into a ChangeBatchQuantity without
/// a message id: this transport only extracts the raw values, allocation::decode_change_batch_quantity applies the
/// rules. Throws MalformedMessage naming the field.
inline commands::ChangeBatchQuantity parse_change_batch_quantity(std::string_view payload) {
    const nlohmann::json j = nlohmann::json::parse(payload, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) throw MalformedMessage("message is not valid JSON");
    if (!j.is_object()) throw MalformedMessage("message must be a JSON object");
    return decode_change_batch_quantity(j);
}

/// True for a failure that trying the same message again cannot cure: an allocation::Error of the message itself
/// (malformed, invalid, an unknown batch), not the storage's (StorageError) nor a lost race (ConcurrencyError).
/// Anything else may pass.
inline bool never_succeeds(const std::exception& error) noexcept {
    if (dynamic_cast<const StorageError*>(&error) != nullptr) return false;
    if (dynamic_cast<const ConcurrencyError*>(&error) != nullptr) return false;
    return dynamic_cast<const Error*>(&error) != nullptr;
}

/// Where the consumers hand each ChangeBatchQuantity: the bus (bus.handle), whose handlers::change_batch_quantity
/// applies a message id once, recording it in the unit of work that commits the change.
using Handler = std::function<void(const commands::ChangeBatchQuantity&)>;

/// What became of a change_batch_quantity message: applied (or known and acknowledged), rejected (it can never
/// succeed: malformed, an unknown batch), or failed for now (the storage, a lost race), with the reason.
struct Applied {
    enum class Outcome { applied, rejected, failed };
    Outcome outcome = Outcome::applied;
    std::string reason{};
};

/// The one path by which a change_batch_quantity message from Redis is applied, whichever transport carried it:
/// `decode()` (the transport's extraction, then allocation::decode_change_batch_quantity), then `handler`. The
/// transports differ only in what they do with the outcome.
template <typename Decode>
Applied apply_change_batch_quantity(const Handler& handler, Decode&& decode) {
    try {
        handler(std::forward<Decode>(decode)());
        return {};
    } catch (const std::exception& error) {
        return {never_succeeds(error) ? Applied::Outcome::rejected : Applied::Outcome::failed, error.what()};
    }
}

/// Receives one human-readable line about the adapter's connection and the messages it skipped.
using Log = std::function<void(std::string_view line)>;

namespace detail {
struct ContextDeleter {
    void operator()(redisContext* c) const noexcept { redisFree(c); }
};
using Context = std::unique_ptr<redisContext, ContextDeleter>;
struct ReplyDeleter {
    void operator()(redisReply* r) const noexcept { freeReplyObject(r); }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

inline timeval to_timeval(std::chrono::milliseconds ms) {
    return timeval{static_cast<decltype(timeval::tv_sec)>(ms.count() / 1000),
                   static_cast<decltype(timeval::tv_usec)>((ms.count() % 1000) * 1000)};
}

/// Connects with a timeout on connecting and on every read and write; throws StorageError on failure.
inline Context connect(const Endpoint& endpoint, std::chrono::milliseconds timeout) {
    Context context(redisConnectWithTimeout(endpoint.host.c_str(), endpoint.port, to_timeval(timeout)));
    if (!context) throw StorageError("cannot allocate a Redis context");
    if (context->err != 0) {
        throw StorageError("cannot connect to Redis at " + endpoint.host + ":" + std::to_string(endpoint.port) + ": " +
                           context->errstr);
    }
    redisSetTimeout(context.get(), to_timeval(timeout));
    return context;
}
}  // namespace detail

struct PublisherOptions {
    /// Limit on connecting and on each command.
    std::chrono::milliseconds timeout{1000};
    /// After a failure, publishing fails at once (without waiting for Redis) for `backoff.delay(failures in a row)`:
    /// 1 s doubling up to 5 s, with jitter; a success starts again from the first.
    Backoff backoff{.first = std::chrono::seconds(1), .cap = std::chrono::seconds(5)};
    /// A message published on channel C is first appended to the stream `stream_prefix` + C, which keeps about
    /// `stream_max_length` entries.
    std::string stream_prefix = "allocation:";
    std::size_t stream_max_length = 1000000;
};

/// Publishes each outbox message twice: appended to a stream (durable, for at-least-once consumers), then as the
/// book's JSON with PUBLISH. The threads that publish share idle connections, made on demand; a
/// thread uses one on its own, so nobody waits for another thread's connect or command. A down or silent broker
/// therefore costs each publisher at most one attempt bounded by `timeout` (a connection found dead at once is
/// replaced by one fresh attempt); after a failure, publishing fails at once until the backoff has passed.
/// A failure throws StorageError; the bus reports it and the committed change stays committed.
class Publisher {
public:
    explicit Publisher(Endpoint endpoint, PublisherOptions options = {})
        : endpoint_(std::move(endpoint)), options_(options) {}

    /// Appends an entry with fields `id` (the message id) and `event` (the book's JSON) to the stream
    /// `stream_prefix` + `channel` (XADD, MAXLEN ~ `stream_max_length`), then PUBLISHes the JSON on `channel`: both
    /// sent at once, one round trip, and Redis runs the durable one first. At-least-once consumers of the stream
    /// tell a repeated entry by its `id`.
    void publish(std::string_view channel, const ports::OutboxMessage& message) {
        const std::string payload = to_json(message.event);
        const std::string stream = options_.stream_prefix + std::string(channel);
        const std::string limit = std::to_string(options_.stream_max_length);
        const Command commands[] = {
            {{"XADD", stream, "MAXLEN", "~", limit, "*", "id", message.id, "event", payload},
             "cannot append to Redis stream " + stream},
            {{"PUBLISH", channel, payload}, "cannot publish on Redis channel " + std::string(channel)}};
        run(commands);
    }

    const Endpoint& endpoint() const noexcept { return endpoint_; }

private:
    /// One command's words, and what a failure of it says first.
    struct Command {
        std::vector<std::string_view> words;
        std::string what;
    };

    /// Sends the commands together on an idle connection (or a new one) and reads their replies; throws
    /// StorageError, starting with the `what` of the first command that failed, when Redis refuses one or cannot
    /// be reached.
    void run(std::span<const Command> commands) {
        detail::Context context = take();  // throws while the broker is known to be away
        bool reused = static_cast<bool>(context);
        for (;;) {
            if (!context) context = connect();
            const Exchange result = exchange(context.get(), commands);
            if (result.answered == commands.size()) {  // the connection is fine, whatever Redis said
                give_back(std::move(context));
                if (!result.refused.empty()) throw StorageError(result.refused);
                return;
            }
            const std::string why = commands[result.answered].what + ": " + context->errstr;
            // An idle connection that the broker closed meanwhile fails at once: one fresh attempt replaces it.
            // Anything else (a timeout) is the broker's state, not the connection's.
            const bool stale = reused && result.answered == 0 &&
                               (context->err == REDIS_ERR_EOF ||
                                (context->err == REDIS_ERR_IO && (errno == EPIPE || errno == ECONNRESET)));
            context.reset();
            if (!stale) {
                failed();
                throw StorageError(why);
            }
            reused = false;
        }
    }

    /// What one exchange got: how many replies arrived before the connection failed, and the first refusal.
    struct Exchange {
        std::size_t answered = 0;
        std::string refused;
    };

    /// Appends every command to the connection's buffer, then reads a reply for each: one round trip.
    static Exchange exchange(redisContext* context, std::span<const Command> commands) {
        for (const Command& command : commands) {
            std::vector<const char*> argv;
            std::vector<std::size_t> lengths;
            for (std::string_view word : command.words) {
                argv.push_back(word.data());
                lengths.push_back(word.size());
            }
            if (redisAppendCommandArgv(context, static_cast<int>(argv.size()), argv.data(), lengths.data()) !=
                REDIS_OK) {
                return {};
            }
        }
        Exchange result;
        for (const Command& command : commands) {
            void* raw = nullptr;
            if (redisGetReply(context, &raw) != REDIS_OK) return result;
            detail::Reply reply(static_cast<redisReply*>(raw));
            if (reply->type == REDIS_REPLY_ERROR && result.refused.empty()) {
                result.refused = command.what + ": " + std::string(reply->str, reply->len);
            }
            ++result.answered;
        }
        return result;
    }

    /// An idle connection, or none (the caller connects); throws at once while failures say to wait.
    detail::Context take() {
        std::lock_guard lock(mutex_);
        if (std::chrono::steady_clock::now() < next_attempt_) {
            throw StorageError("Redis at " + endpoint_.host + ":" + std::to_string(endpoint_.port) +
                               " is unavailable; event not published");
        }
        if (idle_.empty()) return nullptr;
        detail::Context context = std::move(idle_.back());
        idle_.pop_back();
        return context;
    }

    /// Connects without holding the lock: other publishers go on meanwhile.
    detail::Context connect() {
        try {
            return detail::connect(endpoint_, options_.timeout);
        } catch (const StorageError&) {
            failed();
            throw;
        }
    }

    void give_back(detail::Context context) {
        std::lock_guard lock(mutex_);
        failures_ = 0;
        idle_.push_back(std::move(context));
    }

    /// The broker failed: wait before the next attempt, and drop the idle connections (likely dead too) outside
    /// the lock.
    void failed() {
        std::vector<detail::Context> dropped;
        std::lock_guard lock(mutex_);
        next_attempt_ = std::chrono::steady_clock::now() + options_.backoff.delay(++failures_);
        dropped.swap(idle_);
    }

    Endpoint endpoint_;
    PublisherOptions options_;
    std::mutex mutex_;  // guards what follows; never held across a call to Redis
    std::vector<detail::Context> idle_;
    std::chrono::steady_clock::time_point next_attempt_{};
    int failures_ = 0;  // in a row
};

static_assert(ports::diagnose_event_publisher<Publisher>());

namespace detail {

/// The thread a consumer runs: `session(stop)` is one connection's life, which returns (or throws) why it ended, or
/// returns once `stop` is requested. Between sessions it logs why and waits `backoff.delay(failures in a row)`,
/// counted again from the first after a session that got as far as setting `connected`. stop() ends a wait at once
/// and joins the thread.
class ConsumerLoop {
public:
    using Session = std::function<std::string(std::stop_token)>;

    ConsumerLoop(std::string name, const Endpoint& endpoint, Log log, Backoff backoff)
        : name_(std::move(name)), where_(endpoint.host + ":" + std::to_string(endpoint.port)), log_(std::move(log)),
          backoff_(backoff) {}
    ConsumerLoop(const ConsumerLoop&) = delete;
    ConsumerLoop& operator=(const ConsumerLoop&) = delete;
    ~ConsumerLoop() { stop(); }

    void start(Session session) {
        thread_ = std::jthread([this, session = std::move(session)](std::stop_token stop) { run(stop, session); });
    }

    void stop() noexcept {
        thread_.request_stop();
        if (thread_.joinable()) thread_.join();
    }

    /// Sleeps for `delay` unless a stop is requested first; false when it was.
    bool wait(std::stop_token stop, std::chrono::microseconds delay) { return wakeup_.wait_for(stop, delay); }

    void say(std::string_view line) const noexcept {
        try {
            if (log_) log_(line);
        } catch (...) {
        }
    }

    /// Set by a session once it is connected and consuming; read by the consumer's state accessor.
    std::atomic<bool> connected{false};

private:
    void run(std::stop_token stop, const Session& session) noexcept {
        int failures = 0;  // sessions in a row that never connected
        while (!stop.stop_requested()) {
            std::string failure;
            try {
                failure = session(stop);
            } catch (const std::exception& error) {
                failure = error.what();
            }
            if (connected.exchange(false)) failures = 0;
            if (stop.stop_requested()) break;
            const auto delay = backoff_.delay(++failures);
            say(name_ + ": " + failure + "; retrying " + where_ + " in " +
                std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(delay).count()) + " ms");
            if (!wait(stop, delay)) break;
        }
    }

    std::string name_, where_;
    Log log_;
    Backoff backoff_;
    Wakeup wakeup_;
    std::jthread thread_;  // last: it uses everything above
};

}  // namespace detail

struct ConsumerOptions {
    std::string channel = "change_batch_quantity";
    /// Limit on connecting and on writing the subscription.
    std::chrono::milliseconds timeout{1000};
    /// The wait before a reconnection: 100 ms doubling on each failure in a row up to 5 s, with jitter.
    Backoff backoff{.first = std::chrono::milliseconds(100), .cap = std::chrono::seconds(5)};
};

/// Subscribes to a channel on its own thread and hands every message, parsed as a ChangeBatchQuantity, to
/// `handler`. A malformed message, or one the handler rejects (it throws), is logged and skipped. A lost or
/// refused connection is logged and retried with exponential backoff until `stop()` (or destruction).
class Consumer {
public:
    using Handler = redis::Handler;

    Consumer(Endpoint endpoint, Handler handler, Log log, ConsumerOptions options = {})
        : endpoint_(std::move(endpoint)), handler_(std::move(handler)), options_(std::move(options)),
          loop_("redis", endpoint_, std::move(log), options_.backoff) {
        loop_.start([this](std::stop_token stop) { return consume(stop); });
    }
    Consumer(const Consumer&) = delete;
    Consumer& operator=(const Consumer&) = delete;
    ~Consumer() { stop(); }

    /// Stops consuming and joins the thread; a message being handled is finished first.
    void stop() noexcept { loop_.stop(); }

    /// True while the subscription is confirmed by the server.
    bool subscribed() const noexcept { return loop_.connected.load(); }

private:
    // One connection's life: subscribes, then handles messages until the connection fails (returns why) or
    // stop() is called (returns empty).
    std::string consume(std::stop_token stop) {
        detail::Context context = detail::connect(endpoint_, options_.timeout);
        if (redisAppendCommand(context.get(), "SUBSCRIBE %b", options_.channel.data(), options_.channel.size()) !=
            REDIS_OK) {
            return std::string("cannot subscribe: ") + context->errstr;
        }
        for (int done = 0; !done;) {
            if (redisBufferWrite(context.get(), &done) != REDIS_OK) {
                return std::string("cannot subscribe: ") + context->errstr;
            }
        }
        while (!stop.stop_requested()) {
            void* raw = nullptr;
            if (redisReaderGetReply(context->reader, &raw) != REDIS_OK) return "protocol error from Redis";
            if (raw != nullptr) {
                on_reply(detail::Reply(static_cast<redisReply*>(raw)));
                continue;
            }
            pollfd fd{context->fd, POLLIN, 0};
            int ready = ::poll(&fd, 1, 100);  // wakes regularly to notice stop()
            if (ready < 0 && errno != EINTR) return "poll failed";
            if (ready > 0 && redisBufferRead(context.get()) != REDIS_OK) {
                return std::string("lost the connection: ") + (context->errstr[0] ? context->errstr : "closed");
            }
        }
        return {};
    }

    void on_reply(detail::Reply reply) {
        if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements < 3) return;
        std::string_view kind(reply->element[0]->str, reply->element[0]->len);
        if (kind == "subscribe") {
            loop_.connected = true;
            loop_.say("redis: subscribed to " + options_.channel + " at " + endpoint_.host + ":" +
                std::to_string(endpoint_.port));
            return;
        }
        if (kind != "message" || reply->element[2]->type != REDIS_REPLY_STRING) return;
        std::string_view payload(reply->element[2]->str, reply->element[2]->len);
        // At most once: whatever stops a message (its content or the storage), nothing keeps it for a retry.
        const Applied applied =
            apply_change_batch_quantity(handler_, [payload] { return parse_change_batch_quantity(payload); });
        if (applied.outcome != Applied::Outcome::applied) {
            loop_.say("redis: skipped message on " + options_.channel + " (" + applied.reason + "): " +
                std::string(payload.substr(0, 200)));
        }
    }

    Endpoint endpoint_;
    Handler handler_;
    ConsumerOptions options_;
    detail::ConsumerLoop loop_;  // last: its thread uses everything above
};

}  // namespace allocation::redis
