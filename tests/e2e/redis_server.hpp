// A redis-server of the test's own, and what tests read from it: the entries of a stream.
#pragma once

#include <hiredis/hiredis.h>

#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "allocation/adapters/redis/redis.hpp"
#include "processes.hpp"

namespace e2e {

// The adapter's own owners of hiredis handles.
using allocation::redis::detail::Context;
using allocation::redis::detail::Reply;

inline Context connect(int port) {
    Context c(redisConnectWithTimeout("127.0.0.1", port, timeval{2, 0}));
    if (!c || c->err) return nullptr;
    redisSetTimeout(c.get(), timeval{10, 0});
    return c;
}

/// A redis-server of its own on a free loopback port, with nothing written to disk.
class RedisServer {
public:
    /// `persistent`: every write is synced to an append-only file, so a stop and a start keep the data.
    explicit RedisServer(int port = free_port(), bool persistent = false) : port_(port), persistent_(persistent) {
        start();
    }
    int port() const noexcept { return port_; }
    void start() {
        process_.emplace(REDIS_SERVER_PATH,
                         std::vector<std::string>{"--port", std::to_string(port_), "--bind", "127.0.0.1", "--save", "",
                                                  "--appendonly", persistent_ ? "yes" : "no", "--appendfsync", "always",
                                                  "--dir", dir_.path().string()},
                         dir_ / "redis.log");
        bool ready = wait_until([&] {
            Context c = connect(port_);
            if (!c) return false;
            Reply r(static_cast<redisReply*>(redisCommand(c.get(), "PING")));
            return r && r->type == REDIS_REPLY_STATUS && std::string(r->str) == "PONG";
        });
        if (!ready) throw std::runtime_error("redis-server did not start: " + process_->log());
    }
    void stop() { process_.reset(); }

private:
    TempDir dir_;
    int port_;
    bool persistent_;
    std::optional<Process> process_;
};

/// The `event` fields of every entry of a stream, parsed, with the `id` field of each.
inline std::vector<std::pair<std::string, nlohmann::json>> stream_entries(int port, const std::string& stream) {
    std::vector<std::pair<std::string, nlohmann::json>> entries;
    Context c = connect(port);
    if (!c) return entries;
    Reply r(static_cast<redisReply*>(redisCommand(c.get(), "XRANGE %b - +", stream.data(), stream.size())));
    if (!r || r->type != REDIS_REPLY_ARRAY) return entries;
    for (std::size_t i = 0; i < r->elements; ++i) {
        const redisReply* fields = r->element[i]->element[1];
        std::string id;
        nlohmann::json event;
        for (std::size_t f = 0; f + 1 < fields->elements; f += 2) {
            const std::string name(fields->element[f]->str, fields->element[f]->len);
            const std::string value(fields->element[f + 1]->str, fields->element[f + 1]->len);
            if (name == "id") id = value;
            if (name == "event") event = nlohmann::json::parse(value);
        }
        entries.emplace_back(id, event);
    }
    return entries;
}

/// The order ids of the Allocated events in allocation:line_allocated.
inline std::multiset<std::string> streamed_orders(int port) {
    std::multiset<std::string> orders;
    for (const auto& [id, event] : stream_entries(port, "allocation:line_allocated")) {
        orders.insert(event.value("orderid", ""));
    }
    return orders;
}

}  // namespace e2e
