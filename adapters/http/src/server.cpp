// The HTTP server over Boost.Beast and Asio: one Session per connection, every read and write with a
// deadline, the application's handlers on the worker pool, and the answers written back asynchronously.
#include "allocation/adapters/http/server.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <random>
#include <thread>
#include <unordered_map>
#include <vector>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>

#include "allocation/adapters/http/worker_pool.hpp"

namespace allocation::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace beast_http = beast::http;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;
using Clock = std::chrono::steady_clock;

std::string escape_for_log(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (unsigned char c : text) {
        if (c > 0x20 && c < 0x7f && c != '\\') {
            out.push_back(static_cast<char>(c));
        } else {
            fmt::format_to(std::back_inserter(out), "\\x{:02x}", c);
        }
    }
    return out;
}

std::string request_id_from(std::string_view candidate) {
    auto sane = [](unsigned char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
               c == '.' || c == ':' || c == '/';
    };
    if (!candidate.empty() && candidate.size() <= 128 && std::all_of(candidate.begin(), candidate.end(), sane)) {
        return std::string(candidate);
    }
    thread_local std::mt19937_64 random{std::random_device{}()};
    return fmt::format("{:016x}", random());
}

namespace {

std::string message_body(std::string_view message) { return fmt::format(R"({{"message":"{}"}})", message); }

std::string seconds_text(std::chrono::milliseconds duration) {
    return fmt::format("{:g} s", std::chrono::duration<double>(duration).count());
}

class Session;

}  // namespace

struct Server::Impl {
    Impl(ServerOptions opts, Metrics& m)
        : options(std::move(opts)), metrics(m), control(asio::make_strand(ioc)), acceptor(control),
          signals(control, SIGINT, SIGTERM), drain_timer(control),
          pool(options.workers, options.limits.queue_limit) {}

    void bind();
    void start();
    void accept();
    void refuse_connection(tcp::socket socket);
    void begin_drain(std::string_view why);
    void finish();
    void watch_signals();
    void add(Session* session, const std::shared_ptr<Session>& shared);
    void remove(Session* session);
    const Application* application() const noexcept { return app.load(std::memory_order_acquire); }

    ServerOptions options;
    Metrics& metrics;
    std::mutex sessions_mutex;
    std::unordered_map<Session*, std::weak_ptr<Session>> sessions;
    std::atomic<bool> is_draining{false};
    std::atomic<bool> stopped{false};  // the I/O threads are joined: nothing may be posted any more
    unsigned short bound_port = 0;
    std::optional<Application> app_storage;
    std::atomic<const Application*> app{nullptr};
    // Declared after everything a Session touches, so that sessions destroyed with the io_context still find it.
    asio::io_context ioc;
    // The acceptor, the signals and the drain run on one strand, whichever I/O thread runs them.
    asio::strand<asio::io_context::executor_type> control;
    tcp::acceptor acceptor;
    asio::signal_set signals;
    asio::steady_timer drain_timer;
    std::vector<std::thread> io_threads;
    WorkerPool pool;  // destroyed (joined) before the io_context its tasks post to
};

namespace {

/// One client connection: reads a request, has it answered, writes the answer, and waits for the next, with
/// a deadline on each step. Pipelined requests are read from the buffer in turn, so they are answered in order.
class Session : public std::enable_shared_from_this<Session> {
public:
    Session(Server::Impl& server, tcp::socket socket)
        : server_(server), limits_(server.options.limits), socket_(std::move(socket)),
          timer_(socket_.get_executor()), buffer_(limits_.header_bytes + 16 * 1024) {
        error_code ec;
        socket_.set_option(tcp::no_delay(true), ec);
        auto endpoint = socket_.remote_endpoint(ec);
        client_ = ec ? "-" : fmt::format("{}:{}", endpoint.address().to_string(), endpoint.port());
        server_.metrics.connection_opened();
    }
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;
    ~Session() {
        server_.metrics.connection_closed();
        server_.remove(this);
    }

    void start() {
        server_.add(this, shared_from_this());
        asio::dispatch(socket_.get_executor(), [self = shared_from_this()] { self->wait_for_request(); });
    }

    /// Runs on the session's strand when the server begins to drain: a connection waiting for a request closes
    /// now; one with a request under way (partly read, being handled, being answered) closes after its answer.
    void drain() {
        const bool nothing_read = state_ == State::reading_head && buffer_.size() == 0 && !parser_->got_some();
        if (state_ == State::idle || nothing_read) close();
    }

    auto executor() { return socket_.get_executor(); }

    /// Closes the connection now. Runs on the session's strand.
    void close() {
        state_ = State::closed;
        disarm();
        timer_.cancel();  // lets go of the session
        error_code ignored;
        socket_.shutdown(tcp::socket::shutdown_both, ignored);
        socket_.close(ignored);
    }

private:
    enum class State { idle, reading_head, reading_body, handling, writing, closed };
    enum class Deadline { none, idle, request, write };

    void wait_for_request() {
        if (state_ == State::closed) return;
        if (server_.is_draining.load()) return close();
        state_ = State::idle;
        if (buffer_.size() > 0) return read_head();  // a pipelined request is already here
        arm(limits_.idle_timeout, Deadline::idle);
        socket_.async_wait(tcp::socket::wait_read, [self = shared_from_this()](error_code ec) {
            self->disarm();
            if (ec || self->state_ == State::closed) return self->close();
            self->read_head();
        });
    }

    void read_head() {
        state_ = State::reading_head;
        parser_.emplace();
        parser_->header_limit(static_cast<std::uint32_t>(limits_.header_bytes));
        parser_->body_limit(limits_.body_bytes);
        arm(limits_.request_timeout, Deadline::request);
        beast_http::async_read_header(socket_, buffer_, *parser_, [self = shared_from_this()](error_code ec, std::size_t) {
            self->on_head(ec);
        });
    }

    void on_head(error_code ec) {
        if (ec) return on_read_error(ec);
        state_ = State::reading_body;
        auto& req = parser_->get();
        if (req.count(beast_http::field::content_encoding) > 0) {
            return refuse(415, "Content-Encoding is not supported: send the body as plain JSON");
        }
        if (beast::iequals(req[beast_http::field::expect], "100-continue")) {
            static constexpr std::string_view go_on = "HTTP/1.1 100 Continue\r\n\r\n";
            return asio::async_write(socket_, asio::buffer(go_on.data(), go_on.size()),
                                     [self = shared_from_this()](error_code write_ec, std::size_t) {
                                         if (write_ec) return self->on_read_error(write_ec);
                                         self->read_body();
                                     });
        }
        read_body();
    }

    void read_body() {
        beast_http::async_read(socket_, buffer_, *parser_,
                         [self = shared_from_this()](error_code ec, std::size_t) { self->on_request(ec); });
    }

    void on_read_error(error_code ec) {
        const Deadline expired = expired_;
        disarm();
        if (state_ == State::closed) return;
        if (expired == Deadline::request) {
            return refuse(408, "The request did not arrive within " + seconds_text(limits_.request_timeout));
        }
        if (ec == beast_http::error::header_limit || ec == beast_http::error::buffer_overflow) {
            return refuse(431, fmt::format("The request line and headers are larger than {} bytes", limits_.header_bytes));
        }
        if (ec == beast_http::error::body_limit) {
            return refuse(413, fmt::format("The body is larger than {} bytes", limits_.body_bytes));
        }
        const bool nothing_read = state_ == State::reading_head && buffer_.size() == 0 && !parser_->got_some();
        if (ec == beast_http::error::end_of_stream || ec == asio::error::eof || ec == asio::error::connection_reset ||
            ec == asio::error::operation_aborted || nothing_read) {
            return close();  // the client went away (or the server is closing it): nobody to answer
        }
        refuse(400, "Malformed HTTP request: " + ec.message());
    }

    void on_request(error_code ec) {
        if (ec) return on_read_error(ec);
        disarm();
        state_ = State::handling;
        received_ = Clock::now();
        auto& req = parser_->get();
        keep_alive_ = req.keep_alive();
        Request request{std::string(req.method_string()), std::string(req.target()), std::move(req.body()),
                        request_id_from(req["X-Request-Id"])};
        method_ = request.method;
        target_ = request.target;
        request_id_ = request.request_id;
        dispatch(std::move(request));
    }

    // The server's own routes are answered here, without a worker, so that they answer even when every worker
    // is busy; everything else goes to the application on the pool.
    void dispatch(Request request) {
        const std::string_view path = std::string_view(request.target).substr(0, request.target.find('?'));
        if (request.method == "GET" && path == "/health") {
            return respond({200, R"({"status":"ok"})", "health"});
        }
        if (request.method == "GET" && path == "/metrics") {
            return respond({200, server_.metrics.exposition(server_.pool.queued()), "metrics",
                            "text/plain; version=0.0.4; charset=utf-8"});
        }
        const Application* app = server_.application();
        const bool ready_route = request.method == "GET" && path == "/ready";
        if (ready_route && server_.is_draining.load()) return respond({503, R"({"status":"draining"})", "ready"});
        if (app == nullptr) {
            if (ready_route) return respond({503, R"({"status":"starting"})", "ready"});
            return respond({503, message_body("The service is starting; try again"), "other", {}, 1});
        }
        if (!ready_route && app->answers_inline && app->answers_inline(request)) {
            return respond(guarded(server_.options.log, [&] { return app->handle(request); }));
        }
        auto task = [self = shared_from_this(), app, ready_route, request = std::move(request)]() {
            Response response = guarded(self->server_.options.log, [&] { return ready_route ? app->ready() : app->handle(request); });
            asio::post(self->socket_.get_executor(),
                       [self, response = std::move(response)]() mutable { self->respond(std::move(response)); });
        };
        if (!server_.pool.try_submit(std::move(task))) {
            respond({503, message_body("The server is busy; try again"), ready_route ? "ready" : "other", {}, 1});
        }
    }

    // The application must not throw; if it does anyway, the client gets a 500 and the log says why.
    template <typename Fn>
    static Response guarded(const Log& log, Fn&& fn) noexcept {
        try {
            return fn();
        } catch (const std::exception& error) {
            log.line(fmt::format("internal error: {}", error.what()));
        } catch (...) {
            log.line("internal error: an unknown exception");
        }
        return {500, message_body("Internal error")};
    }

    // Answers a request the server will not read to the end, then closes the connection.
    void refuse(int status, const std::string& message) {
        closing_ = true;
        received_ = Clock::now();
        if (parser_ && parser_->is_header_done()) {
            method_ = std::string(parser_->get().method_string());
            target_ = std::string(parser_->get().target());
            request_id_ = request_id_from(parser_->get()["X-Request-Id"]);
        } else {
            method_ = "-";
            target_ = "-";
            request_id_ = request_id_from({});
        }
        respond({status, message_body(message), "other"});
    }

    void respond(Response response) {
        if (state_ == State::closed) return;
        state_ = State::writing;
        res_ = {};
        res_.version(11);
        res_.result(static_cast<unsigned>(response.status));
        res_.set(beast_http::field::content_type, response.content_type);
        res_.set("X-Request-Id", request_id_);
        if (response.retry_after_seconds > 0) res_.set(beast_http::field::retry_after, std::to_string(response.retry_after_seconds));
        closing_ = closing_ || !keep_alive_ || server_.is_draining.load();
        res_.keep_alive(!closing_);
        res_.body() = std::move(response.body);
        res_.prepare_payload();
        route_ = response.route;
        arm(limits_.write_timeout, Deadline::write);
        beast_http::async_write(socket_, res_, [self = shared_from_this()](error_code ec, std::size_t) { self->on_write(ec); });
    }

    void on_write(error_code ec) {
        disarm();
        log();
        if (ec || state_ == State::closed) return close();
        if (closing_) return linger();
        wait_for_request();
    }

    // After refusing a request whose body is still arriving, reads and drops what comes for a moment before
    // closing: closing with unread data makes the kernel send a reset, which can destroy the answer in flight.
    void linger() {
        error_code ignored;
        socket_.shutdown(tcp::socket::shutdown_send, ignored);
        state_ = State::idle;
        arm(std::chrono::milliseconds(1000), Deadline::idle);
        discard();
    }

    void discard() {
        socket_.async_read_some(asio::buffer(scratch_), [self = shared_from_this()](error_code ec, std::size_t n) {
            self->discarded_ += n;
            if (ec || self->discarded_ > 1024 * 1024 || self->state_ == State::closed) return self->close();
            self->discard();
        });
    }

    void log() {
        const auto elapsed = Clock::now() - received_;
        server_.metrics.request(route_, static_cast<int>(res_.result_int()), elapsed);
        server_.options.log.request(fmt::format("{} {} {} {} {:.3f}ms id={}", client_, escape_for_log(method_), escape_for_log(target_),
                             res_.result_int(), std::chrono::duration<double, std::milli>(elapsed).count(),
                             request_id_));
    }

    // One timer serves every deadline, and is not reset for each: a deadline that moves later (the usual case,
    // from one step of a request to the next) only moves a time point; the timer, when it fires early, waits
    // again for the deadline. Only a deadline earlier than the one the timer waits for restarts it.
    void arm(std::chrono::milliseconds after, Deadline kind) {
        deadline_ = Clock::now() + after;
        deadline_kind_ = kind;
        expired_ = Deadline::none;
        if (!timer_waiting_ || timer_.expiry() > deadline_) wait_for_deadline();
    }

    void disarm() noexcept { deadline_kind_ = Deadline::none; }

    void wait_for_deadline() {
        const unsigned generation = ++generation_;  // tells the wait a restart cancelled from the current one
        timer_waiting_ = true;
        timer_.expires_at(deadline_);
        timer_.async_wait([self = shared_from_this(), generation](error_code) {
            if (generation != self->generation_) return;
            self->timer_waiting_ = false;
            self->on_timer();
        });
    }

    void on_timer() {
        if (deadline_kind_ == Deadline::none || state_ == State::closed) return;
        if (Clock::now() < deadline_) return wait_for_deadline();
        expired_ = deadline_kind_;
        deadline_kind_ = Deadline::none;
        error_code ignored;
        socket_.cancel(ignored);
    }

    Server::Impl& server_;
    const Limits& limits_;
    tcp::socket socket_;
    asio::steady_timer timer_;
    beast::flat_buffer buffer_;
    std::optional<beast_http::request_parser<beast_http::string_body>> parser_;
    beast_http::response<beast_http::string_body> res_;
    std::array<char, 4096> scratch_{};
    std::size_t discarded_ = 0;
    State state_ = State::idle;
    Deadline expired_ = Deadline::none;
    Deadline deadline_kind_ = Deadline::none;
    Clock::time_point deadline_{};
    bool timer_waiting_ = false;
    unsigned generation_ = 0;
    bool keep_alive_ = true;
    bool closing_ = false;
    Clock::time_point received_{};
    std::string client_, method_, target_, request_id_;
    std::string_view route_ = "other";
};

}  // namespace

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
        std::string body = message_body("Too many open connections; try again");
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
    impl_->bind();
    impl_->start();
}

Server::~Server() {
    shutdown();
    wait();
}

unsigned short Server::port() const noexcept { return impl_->bound_port; }

void Server::serve(Application app) {
    impl_->app_storage.emplace(std::move(app));
    impl_->app.store(&*impl_->app_storage, std::memory_order_release);
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
