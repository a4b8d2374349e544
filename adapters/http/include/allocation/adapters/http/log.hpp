// Where the HTTP adapter's log lines go: two sinks that the composition chooses (stderr by default), and the
// helpers that make text from a request safe to log.
#pragma once

#include <cstdio>
#include <functional>
#include <string>
#include <string_view>

#include "allocation/serialisation/log_text.hpp"

namespace allocation::http {

/// The adapter never writes a log itself: it hands each line to one of these. Both may be called from any thread.
/// The default writes each line to stderr through allocation::log_text; a sink of its own should do the same.
struct Log {
    /// Errors and the drain, to be written at once.
    std::function<void(std::string_view)> line = write_to_stderr;
    /// One line per answered request; the sink may buffer it.
    std::function<void(std::string_view)> request = write_to_stderr;

    static void write_to_stderr(std::string_view text) {
        const std::string line = log_text(text);
        std::fprintf(stderr, "%.*s\n", static_cast<int>(line.size()), line.data());
    }
};

/// Escapes every byte that is not printable ASCII as \xHH (and the backslash itself), so that text from a
/// request can never start a line of the log or forge a field.
std::string escape_for_log(std::string_view text);

/// `candidate` when it is a sane request id (1 to 128 of A-Z a-z 0-9 and - _ . : /), a fresh random id otherwise.
std::string request_id_from(std::string_view candidate);

}  // namespace allocation::http
