// The service's log: one line per event on stderr, with a UTC timestamp; and the notifier that writes to it.
#pragma once

#include <signal.h>
#include <unistd.h>

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
#include "allocation/serialisation/log_text.hpp"
#include "allocation/service_layer/background.hpp"

namespace allocation::service {

/// The process's log on stderr: one line per event, "2026-11-21T10:00:00.123Z <line>", the line made safe by
/// allocation::log_text (control characters escaped, invalid UTF-8 replaced, cut at 2 KiB). Lines of several threads
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

    /// From a fatal signal's handler: writes out the waiting lines with write(2), unless another thread holds the
    /// buffer. The process is ending: the buffer stays locked.
    void flush_in_signal() noexcept {
        if (!buffer_mutex_.try_lock()) return;
        const char* data = buffer_.data();
        std::size_t left = buffer_.size();
        while (left > 0) {
            const ssize_t written = ::write(STDERR_FILENO, data, left);
            if (written <= 0) return;
            data += written;
            left -= static_cast<std::size_t>(written);
        }
    }

private:
    Log() = default;

    static void append_stamped(std::string& out, std::string_view text) {
        const auto now = std::chrono::system_clock::now();
        const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
        fmt::format_to(std::back_inserter(out), "{:%Y-%m-%dT%H:%M:%S}.{:03}Z {}\n",
                       fmt::gmtime(std::chrono::system_clock::to_time_t(now)), ms, log_text(text));
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

namespace detail {
inline void on_bus_error(int signal) {
    Log::instance().flush_in_signal();
    static constexpr char message[] =
        "allocation-server: SIGBUS: the storage refused a write to a memory-mapped file (SQLite's -shm index: a file "
        "system gone read-only, a file made immutable or truncated); exiting. What was acknowledged is in the "
        "database's files: restart the server once they are writable.\n";
    [[maybe_unused]] const ssize_t ignored = ::write(STDERR_FILENO, message, sizeof message - 1);
    ::signal(signal, SIG_DFL);
    ::raise(signal);  // delivered on return: the process ends of the signal, as a supervisor expects
}
}  // namespace detail

/// On SIGBUS, which the kernel sends when a memory-mapped file cannot be written (SQLite maps its WAL index, the
/// -shm file, and no error code can replace the signal there), the waiting log lines are written out and the
/// cause is said before the process ends of that signal.
inline void log_bus_errors() {
    struct sigaction action {};
    action.sa_handler = detail::on_bus_error;
    sigemptyset(&action.sa_mask);
    ::sigaction(SIGBUS, &action, nullptr);
}

/// The default notifier: out-of-stock messages become log lines. Another Notifier (e-mail, chat) plugs in the same way.
class LogNotifier {
public:
    void send(std::string_view destination, std::string_view message) {
        log_line(fmt::format("notify {}: {}", destination, message));
    }
};

static_assert(ports::Notifier<LogNotifier>);

}  // namespace allocation::service
