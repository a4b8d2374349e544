// The Redis stream consumer: change_batch_quantity commands from a stream through a consumer group, at least once.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <optional>
#include <string>
#include <stop_token>
#include <string_view>
#include <utility>
#include <vector>

#include <hiredis/hiredis.h>

#include "allocation/adapters/redis/redis.hpp"
#include "allocation/domain/commands.hpp"
#include "allocation/serialisation/decoding.hpp"
#include "allocation/domain/errors.hpp"

namespace allocation::redis {

/// One entry of a stream: its id and its fields, in order. `deleted`: still pending, but trimmed from the stream.
struct StreamEntry {
    std::string id;
    std::vector<std::pair<std::string, std::string>> fields;
    bool deleted = false;

    const std::string* field(std::string_view name) const {
        auto it = std::find_if(fields.begin(), fields.end(), [&](const auto& f) { return f.first == name; });
        return it == fields.end() ? nullptr : &it->second;
    }
};

/// Reads an entry of allocation:change_batch_quantity: fields `batchref`, `qty` (a decimal integer, 0 cancels the
/// batch) and optionally `id`, the message id; without it the message id is "<stream>:<entry id>". This transport
/// only extracts the raw values, allocation::decode_change_batch_quantity applies the rules. Throws
/// MalformedMessage naming the field.
inline commands::ChangeBatchQuantity parse_change_batch_quantity(const StreamEntry& entry, std::string_view stream) {
    const std::string* batchref = entry.field("batchref");
    const std::string* qty = entry.field("qty");
    const std::string* id = entry.field("id");
    ChangeBatchQuantityMessage message{batchref != nullptr ? RawField(std::string_view(*batchref)) : MissingField{},
                                       qty != nullptr ? RawField(DecimalText{*qty}) : MissingField{}};
    if (id != nullptr) message.id = *id;
    message.transport_id = std::string(stream) + ":" + entry.id;
    return decode_change_batch_quantity(message);
}

struct StreamConsumerOptions {
    std::string stream = "allocation:change_batch_quantity";
    std::string group = "allocation";
    /// Where messages that can never succeed go, with fields stream, entry, reason and their own.
    std::string dead_letter = "allocation:dead_letter";
    /// Limit on connecting and on each command (a blocking read gets `block` more).
    std::chrono::milliseconds timeout{1000};
    /// How long a read waits for new entries: stop() takes about this long at most.
    std::chrono::milliseconds block{200};
    /// Entries read at once.
    std::size_t count = 16;
    /// Entries pending this long with a consumer (a dead one, say) are claimed by this one (XAUTOCLAIM) ...
    std::chrono::milliseconds claim_idle{60000};
    /// ... checked this often.
    std::chrono::milliseconds claim_every{5000};
    /// The wait after a lost connection or a temporary failure: 100 ms doubling on each in a row up to 5 s, with
    /// jitter.
    Backoff backoff{.first = std::chrono::milliseconds(100), .cap = std::chrono::seconds(5)};
    /// Deliveries an entry gets at most, as Redis counts them (XPENDING): each read that returns it, also the
    /// re-read of the entries behind one that failed. An entry whose delivery number `max_deliveries` fails with
    /// a temporary error goes to `dead_letter` too, with the count and the last error, and is acknowledged. At
    /// least 1.
    std::int64_t max_deliveries = 10;
};

namespace detail {

/// Sends one command; throws StorageError when the connection fails (a refusal comes back as an error reply).
inline Reply command(redisContext* context, const std::vector<std::string_view>& words) {
    std::vector<const char*> argv;
    std::vector<std::size_t> lengths;
    for (std::string_view word : words) {
        argv.push_back(word.data());
        lengths.push_back(word.size());
    }
    Reply reply(static_cast<redisReply*>(
        redisCommandArgv(context, static_cast<int>(argv.size()), argv.data(), lengths.data())));
    if (!reply) throw StorageError(std::string("lost the connection: ") + (context->errstr[0] ? context->errstr : "closed"));
    return reply;
}

inline std::string text(const redisReply* reply) {
    return reply->type == REDIS_REPLY_STRING || reply->type == REDIS_REPLY_STATUS || reply->type == REDIS_REPLY_ERROR
               ? std::string(reply->str, reply->len)
               : std::string();
}

/// Throws StorageError, starting with `what`, for an error reply.
inline Reply checked(Reply reply, std::string_view what) {
    if (reply->type == REDIS_REPLY_ERROR) throw StorageError(std::string(what) + ": " + text(reply.get()));
    return reply;
}

/// The entries of an XREADGROUP reply for one stream (nil: none).
inline std::vector<StreamEntry> entries_of(const redisReply* reply) {
    std::vector<StreamEntry> entries;
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements == 0) return entries;
    const redisReply* stream = reply->element[0];
    if (stream->type != REDIS_REPLY_ARRAY || stream->elements < 2) return entries;
    const redisReply* items = stream->element[1];
    for (std::size_t i = 0; items->type == REDIS_REPLY_ARRAY && i < items->elements; ++i) {
        const redisReply* item = items->element[i];
        if (item->type != REDIS_REPLY_ARRAY || item->elements < 2) continue;
        StreamEntry entry{text(item->element[0]), {}, item->element[1]->type != REDIS_REPLY_ARRAY};
        const redisReply* fields = item->element[1];
        for (std::size_t f = 0; !entry.deleted && f + 1 < fields->elements; f += 2) {
            entry.fields.emplace_back(text(fields->element[f]), text(fields->element[f + 1]));
        }
        entries.push_back(std::move(entry));
    }
    return entries;
}

}  // namespace detail

/// Consumes `stream` through the consumer group `group`, as consumer `name`, on its own thread, and hands each
/// entry, parsed as a ChangeBatchQuantity with its message id, to `handler`.
///
/// - The group is created at the stream's start (and the stream with it) when missing.
/// - First the consumer's own pending entries (left by its previous life), then new ones. An entry is acknowledged
///   (XACK) only after `handler` returned, i.e. after the command committed: delivery is at least once, and the
///   handler (handlers::change_batch_quantity, with the processed message ids) applies a repeated message id once.
/// - An entry that can never succeed (never_succeeds: malformed, an unknown batch, ...) is appended to
///   `dead_letter` with fields stream, entry and reason followed by its own, then acknowledged.
/// - A temporary failure (StorageError, ConcurrencyError) leaves the entry pending; it is tried again, before any
///   later one, after a backoff, until Redis has delivered it `max_deliveries` times (XPENDING's count): then it
///   goes to `dead_letter` with the count and the last error as its reason, and is acknowledged.
/// - Entries pending longer than `claim_idle` with another consumer (one that died) are claimed (XAUTOCLAIM).
/// - A lost or refused connection is logged and retried with exponential backoff until `stop()`.
class StreamConsumer {
public:
    using Handler = redis::Handler;

    StreamConsumer(Endpoint endpoint, std::string name, Handler handler, Log log, StreamConsumerOptions options = {})
        : endpoint_(std::move(endpoint)), name_(std::move(name)), handler_(std::move(handler)),
          options_(std::move(options)), loop_("redis stream", endpoint_, std::move(log), options_.backoff) {
        loop_.start([this](std::stop_token stop) { return consume(stop); });
    }
    StreamConsumer(const StreamConsumer&) = delete;
    StreamConsumer& operator=(const StreamConsumer&) = delete;
    ~StreamConsumer() { stop(); }

    /// Stops consuming and joins the thread; an entry being handled is finished (and acknowledged) first.
    void stop() noexcept { loop_.stop(); }

    /// True while the group exists and the consumer reads from it.
    bool reading() const noexcept { return loop_.connected.load(); }

private:
    // One connection's life: reads and handles entries until stop() (returns empty) or a failure (throws).
    std::string consume(std::stop_token stop) {
        detail::Context context = detail::connect(endpoint_, options_.timeout + options_.block);
        create_group(context.get());
        loop_.connected = true;
        loop_.say("redis stream: reading " + options_.stream + " as " + name_ + " of group " + options_.group);
        std::string cursor = "0";  // our own pending entries first
        auto next_claim = std::chrono::steady_clock::now();
        bool retrying = false;
        while (!stop.stop_requested()) {
            if (std::chrono::steady_clock::now() >= next_claim) {
                if (claim(context.get())) cursor = "0";
                next_claim = std::chrono::steady_clock::now() + options_.claim_every;
            }
            // After a failure, only the entry that failed: a read counts as a delivery of each entry it returns.
            const auto entries = read(context.get(), cursor, retrying ? 1 : options_.count);
            retrying = false;
            if (cursor == "0" && entries.empty()) {
                cursor = ">";
            } else if (!handle_all(context.get(), entries)) {
                cursor = "0";  // the entry that failed, and those after it, again first
                retrying = true;
                if (!loop_.wait(stop, options_.backoff.delay(++retry_failures_))) break;
            }
        }
        return {};
    }

    void create_group(redisContext* context) {
        auto reply = detail::command(context, {"XGROUP", "CREATE", options_.stream, options_.group, "0", "MKSTREAM"});
        if (reply->type == REDIS_REPLY_ERROR && detail::text(reply.get()).rfind("BUSYGROUP", 0) != 0) {
            throw StorageError("cannot create group " + options_.group + " on " + options_.stream + ": " +
                               detail::text(reply.get()));
        }
    }

    std::vector<StreamEntry> read(redisContext* context, const std::string& cursor, std::size_t at_most) {
        const std::string count = std::to_string(at_most), block = std::to_string(options_.block.count());
        std::vector<std::string_view> words{"XREADGROUP", "GROUP", options_.group, name_, "COUNT", count};
        if (cursor == ">") words.insert(words.end(), {"BLOCK", block});
        words.insert(words.end(), {"STREAMS", options_.stream, cursor});
        return detail::entries_of(detail::checked(detail::command(context, words), "cannot read " + options_.stream).get());
    }

    // Takes over entries idle for too long with any consumer; true when it took some (they are now ours, pending).
    bool claim(redisContext* context) {
        const std::string idle = std::to_string(options_.claim_idle.count()), count = std::to_string(options_.count);
        auto reply = detail::checked(detail::command(context, {"XAUTOCLAIM", options_.stream, options_.group, name_,
                                                               idle, claim_start_, "COUNT", count, "JUSTID"}),
                                     "cannot claim from " + options_.stream);
        if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 2) return false;
        claim_start_ = detail::text(reply->element[0]);
        if (claim_start_.empty()) claim_start_ = "0-0";
        const std::size_t claimed = reply->element[1]->type == REDIS_REPLY_ARRAY ? reply->element[1]->elements : 0;
        if (claimed > 0) loop_.say("redis stream: claimed " + std::to_string(claimed) + " idle entries of " + options_.stream);
        return claimed > 0;
    }

    // Handles entries in order; false at the first temporary failure (that entry and the rest stay pending).
    bool handle_all(redisContext* context, const std::vector<StreamEntry>& entries) {
        for (const auto& entry : entries) {
            if (!handle(context, entry)) return false;
            retry_failures_ = 0;
        }
        return true;
    }

    bool handle(redisContext* context, const StreamEntry& entry) {
        if (entry.deleted) {
            loop_.say("redis stream: entry " + entry.id + " of " + options_.stream + " was trimmed before it was handled");
        } else {
            const Applied applied = apply_change_batch_quantity(
                handler_, [&] { return parse_change_batch_quantity(entry, options_.stream); });
            if (applied.outcome == Applied::Outcome::rejected) {
                dead_letter(context, entry, applied.reason);
            } else if (applied.outcome == Applied::Outcome::failed) {
                const std::int64_t deliveries = delivery_count(context, entry.id);
                if (deliveries < options_.max_deliveries) {
                    loop_.say("redis stream: entry " + entry.id + " failed, will retry (delivery " +
                              std::to_string(deliveries) + " of " + std::to_string(options_.max_deliveries) +
                              "): " + applied.reason);
                    return false;
                }
                dead_letter(context, entry, "failed on each of " + std::to_string(deliveries) +
                                                " deliveries, the last time: " + applied.reason);
            }
        }
        detail::checked(detail::command(context, {"XACK", options_.stream, options_.group, entry.id}),
                        "cannot acknowledge " + entry.id);
        return true;
    }

    // How many times Redis has delivered the pending entry `id` (XPENDING's extended form); 0 when it is not pending.
    std::int64_t delivery_count(redisContext* context, const std::string& id) {
        auto reply = detail::checked(detail::command(context, {"XPENDING", options_.stream, options_.group, id, id, "1"}),
                                     "cannot read the deliveries of " + id);
        if (reply->type != REDIS_REPLY_ARRAY || reply->elements == 0) return 0;
        const redisReply* pending = reply->element[0];
        if (pending->type != REDIS_REPLY_ARRAY || pending->elements < 4) return 0;
        return pending->element[3]->type == REDIS_REPLY_INTEGER ? pending->element[3]->integer : 0;
    }

    void dead_letter(redisContext* context, const StreamEntry& entry, std::string_view reason) {
        std::vector<std::string_view> words{"XADD",   options_.dead_letter, "*",    "stream", options_.stream,
                                            "entry",  entry.id,             "reason", reason};
        for (const auto& [name, value] : entry.fields) words.insert(words.end(), {name, value});
        detail::checked(detail::command(context, words), "cannot append to " + options_.dead_letter);
        loop_.say("redis stream: entry " + entry.id + " of " + options_.stream + " to " + options_.dead_letter + ": " +
            std::string(reason));
    }

    Endpoint endpoint_;
    std::string name_;
    Handler handler_;
    StreamConsumerOptions options_;
    int retry_failures_ = 0;  // temporary failures in a row, of the entry ahead
    std::string claim_start_ = "0-0";
    detail::ConsumerLoop loop_;  // last: its thread uses everything above
};

}  // namespace allocation::redis
