// The notifier that tells nobody: for programs that notify no one, and for tests.
#pragma once

#include <string_view>

#include "allocation/ports/notifications.hpp"

namespace allocation::memory {

/// Drops every message: the one no-op Notifier.
class NullNotifier {
public:
    void send(std::string_view /*destination*/, std::string_view /*message*/) noexcept {}
};

static_assert(ports::diagnose_notifier<NullNotifier>());

}  // namespace allocation::memory
