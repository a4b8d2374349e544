// The service's log: one line per event on stderr, with a UTC timestamp; and the notifier that writes to it.
#pragma once

#include <chrono>
#include <cstdio>
#include <iterator>
#include <mutex>
#include <stop_token>
#include <string>
#include <string_view>
#include <thread>

#include <fmt/chrono.h>
#include <fmt/format.h>

#include "allocation/ports/notifications.hpp"
#include "allocation/service_layer/background.hpp"

namespace allocation::service {

/// The process's log on stderr: one line per event, "2026-11-21T10:00:00.123Z <line>". Lines of several threads
/// never mix. Request lines (`log_request`) wait in a buffer for at most `flush_interval`, or until 64 KiB are
/// waiting, and leave in one write: at tens of thousands of requests a second, a write per line would cost the
/// I/O thread a system call per request. Every other line (`log_line`) is written at once, after whatever
/// was waiting, so that the order of lines is the order of events. The buffer is written out at exit, and by
/// `flush()` before an abrupt one.
class Log {
public:
    static constexpr std::chrono::milliseconds flush_interval{100};
    static constexpr std::size_t flush_bytes = 64 * 1024;

    static Log& instance() {
        static Log log;
        return log;
    }
    Log(const Log&) = delete;
    Log& operator=(const Log&) = delete;
    ~Log() {
        if (flusher_.joinable()) {
            flusher_.request_stop();
            flusher_.join();
        }
        flush();
    }

    void line(std::string_view text, bool now) {
        std::size_t waiting = 0;
        {
            std::lock_guard lock(buffer_mutex_);
            append_stamped(buffer_, text);
            waiting = buffer_.size();
            if (!now && !flusher_.joinable()) flusher_ = std::jthread([this](std::stop_token stop) { run(stop); });
        }
        if (now || waiting >= flush_bytes) flush();
    }

    /// Writes out every line waiting in the buffer.
    void flush() {
        std::lock_guard output(output_mutex_);  // held across the swap, so that chunks leave in order
        std::string out;
        {
            std::lock_guard lock(buffer_mutex_);
            out.swap(buffer_);
        }
        if (!out.empty()) std::fwrite(out.data(), 1, out.size(), stderr);
    }

private:
    Log() = default;

    static void append_stamped(std::string& out, std::string_view text) {
        const auto now = std::chrono::system_clock::now();
        const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
        fmt::format_to(std::back_inserter(out), "{:%Y-%m-%dT%H:%M:%S}.{:03}Z {}\n",
                       fmt::gmtime(std::chrono::system_clock::to_time_t(now)), ms, text);
    }

    // Writes out what waits every flush_interval until it is asked to stop; the destructor writes the rest.
    void run(std::stop_token stop) {
        while (interval_.wait_for(stop, flush_interval)) flush();
    }

    std::mutex output_mutex_;
    std::mutex buffer_mutex_;
    std::string buffer_;
    Wakeup interval_;  // nobody wakes it: only the stop request cuts a wait short
    std::jthread flusher_;
};

/// Writes one line to the log now.
inline void log_line(std::string_view line) { Log::instance().line(line, true); }

/// Writes one line of the request log: within Log::flush_interval.
inline void log_request(std::string_view line) { Log::instance().line(line, false); }

/// The default notifier: out-of-stock messages become log lines. Another Notifier (e-mail, chat) plugs in the same way.
class LogNotifier {
public:
    void send(std::string_view destination, std::string_view message) {
        log_line(fmt::format("notify {}: {}", destination, message));
    }
};

static_assert(ports::Notifier<LogNotifier>);

}  // namespace allocation::service
