// The service's log: one line per event on stderr, with a UTC timestamp; and the notifier that writes to it.
#pragma once

#include <chrono>
#include <cstdio>
#include <string_view>

#include <fmt/chrono.h>
#include <fmt/format.h>

#include "allocation/ports/notifications.hpp"

namespace allocation::service {

/// Writes "2026-11-21T10:00:00.123Z <line>" to stderr in one call, so lines of several threads never mix.
inline void log_line(std::string_view line) {
    auto now = std::chrono::system_clock::now();
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
    std::string text = fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:03}Z {}\n", fmt::gmtime(std::chrono::system_clock::to_time_t(now)),
                                   ms, line);
    std::fwrite(text.data(), 1, text.size(), stderr);
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
