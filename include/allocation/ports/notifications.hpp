// The Notifier port: tells a person something (the book sends an email when stock runs out).
#pragma once

#include <string_view>

namespace allocation::ports {

/// `send(destination, message)` delivers a human-readable message to a destination (an address, a channel).
/// It may be called from several threads at once. A failure is thrown; the outbox row that asked for it stays and
/// is tried again.
template <typename N>
concept Notifier = requires(N& notifier, std::string_view destination, std::string_view message) {
    { notifier.send(destination, message) };
};

/// Names what keeps N from being a Notifier. Beside an adapter: `static_assert(diagnose_notifier<N>());`
template <typename N>
consteval bool diagnose_notifier() {
    static_assert(requires(N& notifier, std::string_view text) { notifier.send(text, text); },
                  "a Notifier needs `void send(std::string_view destination, std::string_view message)`");
    return Notifier<N>;
}

}  // namespace allocation::ports
