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
    std::function<void(CLI::App&, Options&)> add_flags = {};
    /// A storage: `chooses` says whether the options ask for it; the first part chosen opens it and serves until
    /// the server has drained (serve.hpp), and answers the process's exit status.
    std::function<bool(const Options&)> chooses = {};
    std::function<int(Service&)> serve = {};
    /// Components that feed the bus from outside (the Redis consumers): started after the delivery, before the
    /// HTTP adapter serves, and stopped before the delivery.
    using AddConsumers = void(Components&, const Options&, unsigned short port, ChangeBatchQuantityHandler);
    std::function<AddConsumers> add_consumers = {};
};

/// The optional parts of this build, in the order CMakeLists.txt lists them (parts.cpp, generated there).
std::vector<Part> optional_parts();

}  // namespace allocation::service
