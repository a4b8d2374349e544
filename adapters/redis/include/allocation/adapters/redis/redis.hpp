// The Redis adapter: publishes domain events on Redis channels and turns messages of a channel into commands.
// The book's external message format: JSON objects, one per message.
#pragma once

#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <atomic>
#include <charconv>
#include <cstdint>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <initializer_list>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include <hiredis/hiredis.h>
#include <nlohmann/json.hpp>

#include "allocation/domain/commands.hpp"
#include "allocation/domain/errors.hpp"
#include "allocation/domain/events.hpp"
#include "allocation/domain/json.hpp"
#include "allocation/domain/model.hpp"
#include "allocation/ports/publisher.hpp"

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

/// A message that is not what its channel expects; the consumer logs and skips it.
class MalformedMessage : public Error {
public:
    using Error::Error;
};

/// The book's JSON for an event (allocation::to_json, shared with the outbox's payloads).
using allocation::to_json;

/// Reads {"batchref": "...", "qty": N} (0 cancels the batch) into a ChangeBatchQuantity. Throws MalformedMessage
/// naming the field.
inline commands::ChangeBatchQuantity parse_change_batch_quantity(std::string_view payload) {
    nlohmann::json j = nlohmann::json::parse(payload, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) throw MalformedMessage("message is not valid JSON");
    if (!j.is_object()) throw MalformedMessage("message must be a JSON object");
    auto batchref = j.find("batchref");
    if (batchref == j.end()) throw MalformedMessage("missing field 'batchref'");
    if (!batchref->is_string() || batchref->get_ref<const std::string&>().empty()) {
        throw MalformedMessage("field 'batchref' must be a non-empty string");
    }
    auto qty = j.find("qty");
    if (qty == j.end()) throw MalformedMessage("missing field 'qty'");
    if (!qty->is_number_integer()) throw MalformedMessage("field 'qty' must be an integer");
    const bool in_range = qty->is_number_unsigned()
                              ? quantity_in_range(qty->get<std::uint64_t>(), min_changed_quantity)
                              : quantity_in_range(qty->get<std::int64_t>(), min_changed_quantity);
    if (!in_range) throw MalformedMessage("field 'qty' " + quantity_range(min_changed_quantity) + ", got " + qty->dump());
    return commands::ChangeBatchQuantity{batchref->get<std::string>(), qty->get<int>()};
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
    /// After a failure, publishing fails at once (without waiting for Redis) for this long; the wait doubles on each
    /// failure in a row, up to `max_retry_after`, and is reset by a success.
    std::chrono::milliseconds retry_after{1000};
    std::chrono::milliseconds max_retry_after{5000};
    /// A message published on channel C is first appended to the stream `stream_prefix` + C, which keeps about
    /// `stream_max_length` entries.
    std::string stream_prefix = "allocation:";
    std::size_t stream_max_length = 1000000;
};

/// Publishes each outbox message twice: appended to a stream (durable, for at-least-once consumers), then as the
/// book's JSON with PUBLISH. The threads that publish share idle connections, made on demand; a
/// thread uses one on its own, so nobody waits for another thread's connect or command. A down or silent broker
/// therefore costs each publisher at most one attempt bounded by `timeout` (a connection found dead at once is
/// replaced by one fresh attempt); after a failure, publishing fails at once until `retry_after` has passed.
/// A failure throws StorageError; the bus reports it and the committed change stays committed.
class Publisher {
public:
    explicit Publisher(Endpoint endpoint, PublisherOptions options = {})
        : endpoint_(std::move(endpoint)), options_(options), backoff_(options.retry_after) {}

    /// Appends an entry with fields `id` (the message id) and `event` (the book's JSON) to the stream
    /// `stream_prefix` + `channel` (XADD, MAXLEN ~ `stream_max_length`), then PUBLISHes the JSON on `channel`: the
    /// durable one first. At-least-once consumers of the stream tell a repeated entry by its `id`.
    void publish(std::string_view channel, const ports::OutboxMessage& message) {
        const std::string payload = to_json(message.event);
        const std::string stream = options_.stream_prefix + std::string(channel);
        const std::string limit = std::to_string(options_.stream_max_length);
        run({"XADD", stream, "MAXLEN", "~", limit, "*", "id", message.id, "event", payload},
            "cannot append to Redis stream " + stream);
        run({"PUBLISH", channel, payload}, "cannot publish on Redis channel " + std::string(channel));
    }

    const Endpoint& endpoint() const noexcept { return endpoint_; }

private:
    /// Sends one command on an idle connection (or a new one) and throws StorageError, starting with `what`, when
    /// Redis refuses it or cannot be reached.
    void run(std::initializer_list<std::string_view> words, const std::string& what) {
        std::vector<const char*> argv;
        std::vector<std::size_t> lengths;
        for (std::string_view word : words) {
            argv.push_back(word.data());
            lengths.push_back(word.size());
        }
        detail::Context context = take();  // throws while the broker is known to be away
        bool reused = static_cast<bool>(context);
        for (;;) {
            if (!context) context = connect();
            detail::Reply reply(static_cast<redisReply*>(
                redisCommandArgv(context.get(), static_cast<int>(argv.size()), argv.data(), lengths.data())));
            if (reply && reply->type != REDIS_REPLY_ERROR) {
                give_back(std::move(context));
                return;
            }
            if (reply) {  // Redis answered: the connection is fine, the command was refused
                give_back(std::move(context));
                throw StorageError(what + ": " + std::string(reply->str, reply->len));
            }
            const std::string why = context->errstr;
            // An idle connection that the broker closed meanwhile fails at once: one fresh attempt replaces it.
            // Anything else (a timeout) is the broker's state, not the connection's.
            const bool stale = reused && (context->err == REDIS_ERR_EOF ||
                                          (context->err == REDIS_ERR_IO && (errno == EPIPE || errno == ECONNRESET)));
            context.reset();
            if (!stale) {
                failed();
                throw StorageError(what + ": " + why);
            }
            reused = false;
        }
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
        backoff_ = options_.retry_after;
        idle_.push_back(std::move(context));
    }

    /// The broker failed: wait before the next attempt, and drop the idle connections (likely dead too) outside
    /// the lock.
    void failed() {
        std::vector<detail::Context> dropped;
        std::lock_guard lock(mutex_);
        next_attempt_ = std::chrono::steady_clock::now() + backoff_;
        backoff_ = std::min(backoff_ * 2, std::max(options_.max_retry_after, options_.retry_after));
        dropped.swap(idle_);
    }

    Endpoint endpoint_;
    PublisherOptions options_;
    std::mutex mutex_;  // guards what follows; never held across a call to Redis
    std::vector<detail::Context> idle_;
    std::chrono::steady_clock::time_point next_attempt_{};
    std::chrono::milliseconds backoff_;
};

static_assert(ports::diagnose_event_publisher<Publisher>());

namespace detail {

/// The thread a consumer runs: `session()` is one connection's life, which returns (or throws) why it ended, or
/// returns once stopping() is true. Between sessions it logs why and waits, with a backoff that doubles up to
/// `max_backoff` and starts again from `initial_backoff` after a session that got as far as setting `connected`.
/// stop() ends a wait at once and joins the thread.
class ConsumerLoop {
public:
    ConsumerLoop(std::string name, const Endpoint& endpoint, Log log, std::chrono::milliseconds initial_backoff,
                 std::chrono::milliseconds max_backoff)
        : name_(std::move(name)), where_(endpoint.host + ":" + std::to_string(endpoint.port)), log_(std::move(log)),
          initial_backoff_(initial_backoff), max_backoff_(max_backoff) {}
    ConsumerLoop(const ConsumerLoop&) = delete;
    ConsumerLoop& operator=(const ConsumerLoop&) = delete;
    ~ConsumerLoop() { stop(); }

    void start(std::function<std::string()> session) {
        thread_ = std::thread([this, session = std::move(session)] { run(session); });
    }

    void stop() noexcept {
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;
        }
        wake_.notify_all();
        if (thread_.joinable()) thread_.join();
    }

    bool stopping() {
        std::lock_guard lock(mutex_);
        return stopping_;
    }

    // Sleeps for `delay` unless stop() comes first; returns false when stopping.
    bool wait(std::chrono::milliseconds delay) {
        std::unique_lock lock(mutex_);
        return !wake_.wait_for(lock, delay, [this] { return stopping_; });
    }

    void say(std::string_view line) const noexcept {
        try {
            if (log_) log_(line);
        } catch (...) {
        }
    }

    /// Set by a session once it is connected and consuming; read by the consumer's state accessor.
    std::atomic<bool> connected{false};

private:
    void run(const std::function<std::string()>& session) noexcept {
        auto backoff = initial_backoff_;
        while (!stopping()) {
            std::string failure;
            try {
                failure = session();
            } catch (const std::exception& error) {
                failure = error.what();
            }
            const bool was_connected = connected.exchange(false);
            if (stopping()) break;
            if (was_connected) backoff = initial_backoff_;
            say(name_ + ": " + failure + "; retrying " + where_ + " in " + std::to_string(backoff.count()) + " ms");
            if (!wait(backoff)) break;
            backoff = std::min(backoff * 2, max_backoff_);
        }
    }

    std::string name_, where_;
    Log log_;
    std::chrono::milliseconds initial_backoff_, max_backoff_;
    std::mutex mutex_;
    std::condition_variable wake_;
    bool stopping_ = false;
    std::thread thread_;
};

}  // namespace detail

struct ConsumerOptions {
    std::string channel = "change_batch_quantity";
    /// Limit on connecting and on writing the subscription.
    std::chrono::milliseconds timeout{1000};
    /// The wait before the first reconnection; it doubles on each failure up to `max_backoff`.
    std::chrono::milliseconds initial_backoff{100};
    std::chrono::milliseconds max_backoff{5000};
};

/// Subscribes to a channel on its own thread and hands every message, parsed as a ChangeBatchQuantity, to
/// `handler`. A malformed message, or one the handler rejects (it throws), is logged and skipped. A lost or
/// refused connection is logged and retried with exponential backoff until `stop()` (or destruction).
class Consumer {
public:
    using Handler = std::function<void(const commands::ChangeBatchQuantity&)>;

    Consumer(Endpoint endpoint, Handler handler, Log log, ConsumerOptions options = {})
        : endpoint_(std::move(endpoint)), handler_(std::move(handler)), options_(std::move(options)),
          loop_("redis", endpoint_, std::move(log), options_.initial_backoff, options_.max_backoff) {
        loop_.start([this] { return consume(); });
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
    std::string consume() {
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
        while (!loop_.stopping()) {
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
        try {
            handler_(parse_change_batch_quantity(payload));
        } catch (const std::exception& error) {
            loop_.say("redis: skipped message on " + options_.channel + " (" + error.what() + "): " +
                std::string(payload.substr(0, 200)));
        }
    }

    Endpoint endpoint_;
    Handler handler_;
    ConsumerOptions options_;
    detail::ConsumerLoop loop_;  // last: its thread uses everything above
};

}  // namespace allocation::redis
