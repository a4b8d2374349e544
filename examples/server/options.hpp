// allocation-server's configuration: every flag, each also read from ALLOCATION_<FLAG>, in one struct that the
// composition and the optional parts (parts.hpp) fill and read.
#pragma once

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <string>

#include <CLI/CLI.hpp>

#include "allocation/adapters/http/server.hpp"
#include "delivery.hpp"

namespace allocation::service {

struct Options {
    std::string db = "./allocation.db";
    bool memory = false;
    std::string synchronous = "full";
    std::string postgres;  // a libpq URI; empty: SQLite (--db)
    std::string host = "127.0.0.1";
    int port = 5005;
    // 0: the storage's default (default_threads).
    std::size_t threads = 0;
    std::size_t io_threads = 1;
    // 0: the storage's default (default_group_limit).
    std::size_t group_limit = 0;
    std::string redis;
    std::string smtp;
    std::size_t stream_max_length = 1000000;
    std::string consumer_name;  // empty: allocation-server-<port>
    double claim_idle = 60;
    std::int64_t max_deliveries = 10;  // redis::StreamConsumerOptions's
    double retention = 7 * 86400;
    std::size_t max_connections = http::Limits{}.max_connections;
    std::size_t queue_limit = http::Limits{}.queue_limit;
    std::size_t header_limit = http::Limits{}.header_bytes;
    std::size_t body_limit = http::Limits{}.body_bytes;
    double request_timeout = 10, idle_timeout = 5, write_timeout = 10, drain_timeout = 10;
};

// Every flag also comes from an environment variable, ALLOCATION_<FLAG>; a flag given on the command line wins.
struct Flags {
    CLI::App& app;
    template <typename T>
    CLI::Option* operator()(const std::string& name, T& value, const std::string& help) const {
        std::string env = "ALLOCATION_" + name;
        std::transform(env.begin(), env.end(), env.begin(), [](char c) { return c == '-' ? '_' : std::toupper(c); });
        return app.add_option("--" + name, value, help)->envname(env)->capture_default_str();
    }
};

inline std::chrono::milliseconds millis(double seconds) {
    return std::chrono::milliseconds(static_cast<long long>(seconds * 1000));
}

}  // namespace allocation::service
