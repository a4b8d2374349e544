// The server's state shared by its pieces: the listener and the drain (server.cpp), the route tables and the
// dispatch to the worker pool (dispatch.cpp), and the connections (session.cpp). Private to the adapter.
#pragma once

#include <atomic>
#include <chrono>
#include <csignal>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include <boost/asio.hpp>
#include <fmt/format.h>

#include "allocation/adapters/http/server.hpp"
#include "allocation/adapters/http/worker_pool.hpp"

namespace allocation::http {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

class Session;

/// "0.5 s": a limit as the log and the answers name it.
inline std::string seconds_text(std::chrono::milliseconds duration) {
    return fmt::format("{:g} s", std::chrono::duration<double>(duration).count());
}

/// The routes in force: the server's own, and the application's once it serves. Never changed once published;
/// the server publishes a new one when it starts serving and when it begins to drain.
struct RouteTable {
    Router router;
    bool serving = false;  // false: what no route takes is answered 503, the service is starting
};

struct Server::Impl {
    Impl(ServerOptions opts, Metrics& m)
        : options(std::move(opts)), metrics(m), control(asio::make_strand(ioc)), acceptor(control),
          signals(control, SIGINT, SIGTERM), drain_timer(control),
          pool(options.workers, options.limits.queue_limit) {}

    // server.cpp: the listener and the drain
    void bind();
    void start();
    void accept();
    void refuse_connection(tcp::socket socket);
    void begin_drain(std::string_view why);
    void finish();
    void watch_signals();
    void add(Session* session, const std::shared_ptr<Session>& shared);
    void remove(Session* session);

    // dispatch.cpp: which route answers, and where it runs
    void publish_routes();
    std::vector<Route> own_routes() const;
    void dispatch(Request request, const std::shared_ptr<Session>& session);
    Response guarded(const Route& route, const Request& request) const noexcept;

    ServerOptions options;
    Metrics& metrics;
    std::mutex sessions_mutex;
    std::unordered_map<Session*, std::weak_ptr<Session>> sessions;
    std::atomic<bool> is_draining{false};
    std::atomic<bool> stopped{false};  // the I/O threads are joined: nothing may be posted any more
    unsigned short bound_port = 0;
    std::mutex routes_mutex;  // serve() and the drain publish tables
    std::optional<Application> app;
    // Every table published stays until the server goes, so that a request may keep the one it started with.
    std::vector<std::unique_ptr<const RouteTable>> tables;
    std::atomic<const RouteTable*> routes{nullptr};
    // Declared after everything a Session touches, so that sessions destroyed with the io_context still find it.
    asio::io_context ioc;
    // The acceptor, the signals and the drain run on one strand, whichever I/O thread runs them.
    asio::strand<asio::io_context::executor_type> control;
    tcp::acceptor acceptor;
    asio::signal_set signals;
    asio::steady_timer drain_timer;
    std::vector<std::jthread> io_threads;
    WorkerPool pool;  // destroyed (joined) before the io_context its tasks post to
};

}  // namespace allocation::http
