// The parts allocation-server is composed of, beyond the HTTP adapter and the in-memory storage it always has:
// each optional adapter is a compiled file (part_<name>.cpp) that examples/server/CMakeLists.txt builds in when
// the adapter's target exists, and that adds its flags, a storage to serve on, or components.
#pragma once

#include <functional>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>

#include "allocation/adapters/http/metrics.hpp"
#include "allocation/adapters/http/server.hpp"
#include "allocation/domain/commands.hpp"
#include "components.hpp"
#include "delivery.hpp"
#include "options.hpp"

namespace allocation::service {

using ChangeBatchQuantityHandler = std::function<void(const commands::ChangeBatchQuantity&)>;

struct Part;

/// What a storage is served with: everything the composition built before it.
struct Service {
    const Options& options;
    http::Metrics& metrics;
    http::Server& server;
    const std::vector<Part>& parts;
};

struct Part {
    std::string_view name;
    /// The part's flags, added through Flags, so that each can also come from its environment variable.
    std::function<void(const Flags&, Options&)> add_flags = {};
    /// A storage: `chooses` says whether the options ask for it; the first part chosen opens it and serves until
    /// the server has drained (serve.hpp), and answers the process's exit status.
    std::function<bool(const Options&)> chooses = {};
    std::function<int(Service&)> serve = {};
    /// Components that feed the bus from outside (the Redis consumers): started after the delivery, before the
    /// HTTP adapter serves, and stopped before the delivery.
    using AddConsumers = void(Components&, const Options&, unsigned short port, ChangeBatchQuantityHandler);
    std::function<AddConsumers> add_consumers = {};
    /// A sender of the outbound handlers, when the options configure one (--smtp, --redis): the notifier's or the
    /// publisher's (delivery.hpp).
    std::function<Send(const Options&)> notifier = {};
    std::function<Publish(const Options&)> publisher = {};
};

/// The senders the parts make for these options.
inline Senders senders(const std::vector<Part>& parts, const Options& options) {
    Senders senders;
    for (const Part& part : parts) {
        if (!senders.notify && part.notifier) senders.notify = part.notifier(options);
        if (!senders.publish && part.publisher) senders.publish = part.publisher(options);
    }
    return senders;
}

/// The optional parts of this build, in the order CMakeLists.txt lists them (parts.cpp, generated there).
std::vector<Part> optional_parts();

}  // namespace allocation::service
