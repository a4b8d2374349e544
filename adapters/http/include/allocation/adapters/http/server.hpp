// The service's HTTP/1.1 server: asynchronous I/O with a deadline on every connection, the application's
// handlers on a bounded worker pool, and an explicit limit for everything a client can make it hold.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

#include "allocation/adapters/http/log.hpp"
#include "allocation/adapters/http/metrics.hpp"

namespace allocation::http {

/// One request as the application sees it; the server has already checked every limit.
struct Request {
    std::string method;  // "GET", "POST", ...
    std::string target;  // as sent: "/allocations/a%2Fb?x=1"
    std::string body;
    std::string request_id;
};

/// The application's answer. `route` names the route for the metrics and must have static storage.
struct Response {
    int status = 200;
    std::string body;
    std::string_view route = "other";
    std::string_view content_type = "application/json";
    int retry_after_seconds = 0;  // sent as Retry-After when > 0
};

/// What the server asks of the application. Both run on a worker thread and must not throw.
struct Application {
    std::function<Response(const Request&)> handle;
    /// The answer to GET /ready while serving (not starting or draining): 200 when every dependency answers.
    std::function<Response()> ready;
    /// True for a request that `handle` answers without waiting for any lock held across I/O (a read of the view:
    /// SQLite's WAL readers never wait for the writer). Those are answered on the I/O thread, which is cheaper than
    /// two hand-offs to a worker and back; everything else runs on a worker. May be empty: nothing is inline.
    std::function<bool(const Request&)> answers_inline;
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
    unsigned short port = 5005;
    std::size_t io_threads = 1;
    std::size_t workers = 4;
    Limits limits;
    Log log;
};

/// The server's own errors at start (the address cannot be bound), with a message naming the address.
class ServerError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// Binds in the constructor (no SO_REUSEPORT: a port in use is an error, never a shared port), serves
/// /health and /metrics itself from the first moment, answers 503 to everything else until `serve()` hands it
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
    /// From now on requests go to `app`. Thread-safe; call once.
    void serve(Application app);
    /// Begins the drain, as SIGTERM does.
    void shutdown();
    /// Blocks until the server has drained (or the drain deadline passed) and its threads are joined.
    void wait();
    /// True once a drain has begun.
    bool draining() const noexcept;

    struct Impl;  // the implementation's, in http_server.cpp

private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace allocation::http
