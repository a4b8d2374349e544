// The HTTP/1.1 server: asynchronous I/O with a deadline on every connection, routes on a bounded worker pool, an
// explicit limit for everything a client can make it hold, and /health, /ready and /metrics for operators.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "allocation/adapters/http/log.hpp"
#include "allocation/adapters/http/metrics.hpp"
#include "allocation/adapters/http/router.hpp"

namespace allocation::http {

/// What an application serves: its routes, and the answer to GET /ready once it serves.
struct Application {
    std::vector<Route> routes;
    /// Runs on a worker, must not throw: 200 when every dependency answers. Empty: always 200 {"status":"ready"}.
    std::function<Response()> ready = {};
};

struct Limits {
    std::size_t header_bytes = 8 * 1024;            // request line and headers; 431 beyond
    std::size_t body_bytes = 64 * 1024;             // however framed; 413 beyond, the rest unread
    std::chrono::milliseconds request_timeout{10'000};  // a whole request, from its first byte; 408 beyond
    std::chrono::milliseconds idle_timeout{5'000};      // a keep-alive connection waiting for its next request
    std::chrono::milliseconds write_timeout{10'000};    // an answer, to a client that does not read it
    std::size_t max_connections = 1024;             // beyond, 503 and close at once
    std::size_t queue_limit = 128;                  // requests waiting for a worker; beyond, 503
    std::chrono::milliseconds drain_timeout{10'000};    // from SIGTERM to exit, at most
};

struct ServerOptions {
    std::string host = "127.0.0.1";
    unsigned short port = 5005;  // 0: any free port (port() says which)
    std::size_t io_threads = 1;
    std::size_t workers = 4;
    Limits limits = {};
    Log log = {};
};

/// The server's own errors at start (the address cannot be bound), with a message naming the address.
class ServerError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// Binds in the constructor (no SO_REUSEPORT: a port in use is an error, never a shared port), serves
/// /health and /metrics from the first moment, answers 503 to everything else until `serve()` hands it
/// the application, and drains on SIGINT or SIGTERM: it stops accepting, /ready answers 503, requests in flight
/// finish, idle connections close, and `wait()` returns within the drain deadline. A second signal exits the
/// process at once (status 128 + the signal).
class Server {
public:
    Server(ServerOptions options, Metrics& metrics);
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;
    ~Server();

    /// The port it listens on (useful with port 0).
    unsigned short port() const noexcept;
    /// From now on requests go to `app`'s routes, after the server's own. Thread-safe; call once.
    void serve(Application app);
    /// Begins the drain, as SIGTERM does.
    void shutdown();
    /// Blocks until the server has drained (or the drain deadline passed) and its threads are joined.
    void wait();
    /// True once a drain has begun.
    bool draining() const noexcept;

    struct Impl;  // the implementation's, in server.cpp

private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace allocation::http
