// The listener and the drain: binds, accepts connections up to the cap (each a Session), watches the signals,
// and drains within its deadline. Which route answers is dispatch.cpp's; a connection's I/O is session.cpp's.
#include <algorithm>
#include <csignal>
#include <cstdlib>

#include <fmt/format.h>

#include "server_impl.hpp"
#include "session.hpp"

namespace allocation::http {

void Server::Impl::bind() {
    error_code ec;
    const auto address = asio::ip::make_address(options.host, ec);
    if (ec) throw ServerError(fmt::format("cannot listen on {}: not an IP address", options.host));
    const tcp::endpoint endpoint(address, options.port);
    auto fail = [&](std::string_view doing) {
        throw ServerError(fmt::format("cannot listen on {}:{}: {} failed: {}", options.host, options.port, doing,
                                      ec.message()));
    };
    if (acceptor.open(endpoint.protocol(), ec)) fail("socket");
    // SO_REUSEADDR only lets a restarted server bind while old connections linger in TIME_WAIT; without
    // SO_REUSEPORT a second server on a port in use fails here instead of sharing it.
    if (acceptor.set_option(tcp::acceptor::reuse_address(true), ec)) fail("setsockopt");
    if (acceptor.bind(endpoint, ec)) fail("bind");
    if (acceptor.listen(asio::socket_base::max_listen_connections, ec)) fail("listen");
    bound_port = acceptor.local_endpoint(ec).port();
}

void Server::Impl::start() {
    watch_signals();
    accept();
    for (std::size_t i = 0; i < std::max<std::size_t>(1, options.io_threads); ++i) {
        io_threads.emplace_back([this] { ioc.run(); });
    }
}

void Server::Impl::accept() {
    acceptor.async_accept(asio::make_strand(ioc), [this](error_code ec, tcp::socket socket) {
        if (!acceptor.is_open() || ec == asio::error::operation_aborted) return;
        if (ec) {
            // Out of file descriptors, most likely: say so, and try again shortly instead of spinning.
            options.log.line(fmt::format("accept failed: {}", ec.message()));
            auto retry = std::make_shared<asio::steady_timer>(control, std::chrono::milliseconds(100));
            retry->async_wait([this, retry](error_code) { accept(); });
            return;
        }
        if (static_cast<std::size_t>(metrics.open_connections()) >= options.limits.max_connections) {
            refuse_connection(std::move(socket));
        } else {
            std::make_shared<Session>(*this, std::move(socket))->start();
        }
        accept();
    });
}

// Over the connection cap: a short answer written without waiting (it fits any socket buffer), then close.
void Server::Impl::refuse_connection(tcp::socket socket) {
    static const std::string answer = [] {
        const std::string body = message_body("Too many open connections; try again");
        return fmt::format("HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\n"
                           "Connection: close\r\nContent-Length: {}\r\n\r\n{}",
                           body.size(), body);
    }();
    error_code ec;
    socket.non_blocking(true, ec);
    socket.write_some(asio::buffer(answer), ec);
    socket.shutdown(tcp::socket::shutdown_send, ec);
    metrics.request("other", 503, {});
    options.log.line(fmt::format("refused a connection: {} connections are open (--max-connections)",
                                 options.limits.max_connections));
}

void Server::Impl::watch_signals() {
    signals.async_wait([this](error_code ec, int signal) {
        if (ec) return;
        const char* name = signal == SIGINT ? "SIGINT" : "SIGTERM";
        if (is_draining.load()) {
            options.log.line(fmt::format("{} received again: exiting now", name));
            std::_Exit(128 + signal);
        }
        begin_drain(fmt::format("{} received", name));
        watch_signals();
    });
}

void Server::Impl::begin_drain(std::string_view why) {
    if (is_draining.exchange(true)) return;
    publish_routes();  // /ready says draining from now on
    options.log.line(fmt::format("{}: draining (at most {}; a second signal exits at once)", why,
                                 seconds_text(options.limits.drain_timeout)));
    error_code ignored;
    acceptor.close(ignored);
    drain_timer.expires_after(options.limits.drain_timeout);
    drain_timer.async_wait([this](error_code ec) {
        if (ec) return;
        std::size_t open = 0;
        {
            std::lock_guard lock(sessions_mutex);
            open = sessions.size();
        }
        options.log.line(fmt::format("drain deadline passed: closing {} connections", open));
        ioc.stop();  // the sockets close as their sessions are destroyed
    });
    std::vector<std::shared_ptr<Session>> open;
    {
        std::lock_guard lock(sessions_mutex);
        for (auto& [raw, weak] : sessions) {
            if (auto session = weak.lock()) open.push_back(std::move(session));
        }
    }
    for (auto& session : open) asio::post(session->executor(), [session] { session->drain(); });
    if (open.empty()) finish();
}

void Server::Impl::finish() {
    if (stopped.load()) return;  // sessions destroyed with the io_context have nobody to tell
    asio::post(control, [this] {
        drain_timer.cancel();
        ioc.stop();
    });
}

void Server::Impl::add(Session* session, const std::shared_ptr<Session>& shared) {
    std::lock_guard lock(sessions_mutex);
    sessions.emplace(session, shared);
}

void Server::Impl::remove(Session* session) {
    bool last = false;
    {
        std::lock_guard lock(sessions_mutex);
        sessions.erase(session);
        last = sessions.empty();
    }
    if (last && is_draining.load()) finish();
}

Server::Server(ServerOptions options, Metrics& metrics)
    : impl_(std::make_unique<Impl>(std::move(options), metrics)) {
    impl_->publish_routes();
    impl_->bind();
    impl_->start();
}

Server::~Server() {
    shutdown();
    wait();
}

unsigned short Server::port() const noexcept { return impl_->bound_port; }

void Server::serve(Application app) {
    {
        std::lock_guard lock(impl_->routes_mutex);
        impl_->app.emplace(std::move(app));
    }
    impl_->publish_routes();
}

void Server::shutdown() {
    if (impl_->stopped.load()) return;
    asio::post(impl_->control, [impl = impl_.get()] { impl->begin_drain("shutting down"); });
}

void Server::wait() {
    for (auto& thread : impl_->io_threads) {
        if (thread.joinable()) thread.join();
    }
    impl_->stopped.store(true);
    impl_->pool.stop();
}

bool Server::draining() const noexcept { return impl_->is_draining.load(); }

}  // namespace allocation::http
