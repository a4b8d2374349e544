// The Notifier port: tells a person something (the book sends an email when stock runs out).
#pragma once

#include <string_view>

namespace allocation::ports {

/// `send(destination, message)` delivers a human-readable message to a destination (an address, a channel).
/// It may be called from several threads at once. A failure is thrown, and the bus reports it.
template <typename N>
concept Notifier = requires(N& notifier, std::string_view destination, std::string_view message) {
    { notifier.send(destination, message) };
};

}  // namespace allocation::ports
