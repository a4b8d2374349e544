// How to reach the PostgreSQL database: its libpq URI and how long to wait for a connection.
#pragma once

#include <chrono>
#include <string>

namespace allocation::postgres {

struct Options {
    /// A libpq connection URI (postgresql://user@127.0.0.1:5432/allocation) or key=value string.
    std::string uri;
    /// How long opening one connection may take before it fails with StorageError (libpq counts whole seconds,
    /// at least 2: shorter waits are rounded up).
    std::chrono::milliseconds connect_timeout{5000};
};

}  // namespace allocation::postgres
