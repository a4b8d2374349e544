// The service's counters, and their Prometheus text exposition (format version 0.0.4) for GET /metrics.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

#include <fmt/format.h>

namespace allocation::http {

/// Counts what the service did. Every member may be called from any thread.
class Metrics {
public:
    /// Upper bounds of the latency histogram's buckets, in seconds.
    static constexpr std::array<double, 14> latency_buckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                               0.1,    0.25,  0.5,    1,     2.5,   5,     10};

    /// One answered request: `route` is a name with static storage such as "allocate" (never text from the
    /// request, so that the set of series stays small).
    void request(std::string_view route, int status, std::chrono::nanoseconds duration) {
        const double seconds = std::chrono::duration<double>(duration).count();
        std::lock_guard lock(mutex_);
        ++requests_[{route, status}];
        Histogram& histogram = latency_[route];
        for (std::size_t i = 0; i < latency_buckets.size(); ++i) {
            if (seconds <= latency_buckets[i]) ++histogram.buckets[i];
        }
        histogram.sum += seconds;
        ++histogram.count;
    }

    /// One command handed to the bus: `outcome` is "ok", "rejected" (the caller's input) or "failed"; both
    /// names have static storage.
    void command(std::string_view name, std::string_view outcome) {
        std::lock_guard lock(mutex_);
        ++commands_[{name, outcome}];
    }

    void concurrency_retry() noexcept { retries_.fetch_add(1, std::memory_order_relaxed); }
    /// One group of `commands` run in one unit of work and one commit (allocation::GroupCommit's observer).
    void command_group(std::size_t commands) noexcept {
        groups_.fetch_add(1, std::memory_order_relaxed);
        grouped_commands_.fetch_add(commands, std::memory_order_relaxed);
    }
    void handler_failure() noexcept { handler_failures_.fetch_add(1, std::memory_order_relaxed); }
    void connection_opened() noexcept { connections_.fetch_add(1, std::memory_order_relaxed); }
    void connection_closed() noexcept { connections_.fetch_sub(1, std::memory_order_relaxed); }
    std::int64_t open_connections() const noexcept { return connections_.load(std::memory_order_relaxed); }

    /// What the outbox still holds: undelivered rows, and the age of the oldest in seconds (0 when none).
    using Backlog = std::function<std::pair<std::size_t, double>()>;
    /// Set while the server may already answer /metrics (it does from its start).
    void watch_outbox(Backlog backlog) {
        std::lock_guard lock(mutex_);
        backlog_ = std::move(backlog);
    }

    /// The exposition text; `queue_depth` is the number of requests waiting for a worker now.
    std::string exposition(std::size_t queue_depth) const {
        std::string out;
        outbox_gauges(out);  // a read of the database: not under the lock every request takes
        std::lock_guard lock(mutex_);
        header(out, "allocation_http_requests_total", "counter", "HTTP requests answered, by route and status.");
        for (const auto& [key, count] : requests_) {
            fmt::format_to(std::back_inserter(out), "allocation_http_requests_total{{route=\"{}\",status=\"{}\"}} {}\n",
                           key.first, key.second, count);
        }
        header(out, "allocation_http_request_duration_seconds", "histogram",
               "Time from a request's last byte read to its answer written, by route.");
        for (const auto& [route, histogram] : latency_) write_histogram(out, route, histogram);
        header(out, "allocation_commands_total", "counter", "Commands handed to the message bus, by outcome.");
        for (const auto& [key, count] : commands_) {
            fmt::format_to(std::back_inserter(out), "allocation_commands_total{{command=\"{}\",outcome=\"{}\"}} {}\n",
                           key.first, key.second, count);
        }
        gauge_or_counter(out, "allocation_concurrency_retries_total", "counter",
                         "Units of work tried again after losing an optimistic-concurrency race.", retries_.load());
        gauge_or_counter(out, "allocation_command_groups_total", "counter",
                         "Groups of commands run in one unit of work and one commit, a command alone being one.",
                         groups_.load());
        gauge_or_counter(out, "allocation_grouped_commands_total", "counter",
                         "Commands in those groups: over allocation_command_groups_total, the mean group size.",
                         grouped_commands_.load());
        gauge_or_counter(out, "allocation_event_handler_failures_total", "counter",
                         "Event handlers that failed (each is also logged).", handler_failures_.load());
        gauge_or_counter(out, "allocation_http_open_connections", "gauge", "Client connections open now.",
                         connections_.load());
        gauge_or_counter(out, "allocation_worker_queue_depth", "gauge", "Requests waiting for a worker thread now.",
                         static_cast<std::int64_t>(queue_depth));
        return out;
    }

private:
    // Left out when the outbox cannot be read (the database is away): /ready says why.
    void outbox_gauges(std::string& out) const {
        Backlog read_backlog;
        {
            std::lock_guard lock(mutex_);
            read_backlog = backlog_;
        }
        if (!read_backlog) return;
        std::pair<std::size_t, double> backlog;
        try {
            backlog = read_backlog();
        } catch (const std::exception&) {
            return;
        }
        gauge_or_counter(out, "allocation_outbox_undelivered", "gauge",
                         "Outbox rows (events for Redis, notifications) not delivered yet.", backlog.first);
        gauge_or_counter(out, "allocation_outbox_oldest_age_seconds", "gauge",
                         "Age of the oldest undelivered outbox row (0 when there is none).", backlog.second);
    }

    struct Histogram {
        std::array<std::uint64_t, latency_buckets.size()> buckets{};
        double sum = 0;
        std::uint64_t count = 0;
    };

    static void header(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
        fmt::format_to(std::back_inserter(out), "# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
    }

    template <typename Value>
    static void gauge_or_counter(std::string& out, std::string_view name, std::string_view type,
                                 std::string_view help, Value value) {
        header(out, name, type, help);
        fmt::format_to(std::back_inserter(out), "{} {}\n", name, value);
    }

    static void write_histogram(std::string& out, std::string_view route, const Histogram& histogram) {
        constexpr std::string_view name = "allocation_http_request_duration_seconds";
        for (std::size_t i = 0; i < latency_buckets.size(); ++i) {
            fmt::format_to(std::back_inserter(out), "{}_bucket{{route=\"{}\",le=\"{}\"}} {}\n", name, route,
                           latency_buckets[i], histogram.buckets[i]);
        }
        fmt::format_to(std::back_inserter(out), "{}_bucket{{route=\"{}\",le=\"+Inf\"}} {}\n", name, route,
                       histogram.count);
        fmt::format_to(std::back_inserter(out), "{}_sum{{route=\"{}\"}} {}\n", name, route, histogram.sum);
        fmt::format_to(std::back_inserter(out), "{}_count{{route=\"{}\"}} {}\n", name, route, histogram.count);
    }

    mutable std::mutex mutex_;
    std::map<std::pair<std::string_view, int>, std::uint64_t> requests_;
    std::map<std::string_view, Histogram> latency_;
    std::map<std::pair<std::string_view, std::string_view>, std::uint64_t> commands_;
    std::atomic<std::uint64_t> retries_{0};
    std::atomic<std::uint64_t> handler_failures_{0};
    std::atomic<std::uint64_t> groups_{0};
    std::atomic<std::uint64_t> grouped_commands_{0};
    std::atomic<std::int64_t> connections_{0};
    Backlog backlog_;
};

}  // namespace allocation::http
