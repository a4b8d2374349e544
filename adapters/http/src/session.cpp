// One client connection over beast::tcp_stream: the reads within the limits, the answers, the request log.
#include "session.hpp"

#include <cstdint>
#include <utility>

#include <fmt/format.h>

namespace allocation::http {

void Exchange::begin(const beast_http::request_header<>* head) {
    received = Clock::now();
    if (head == nullptr) {
        method = "-";
        target = "-";
        request_id = request_id_from({});
        return;
    }
    method = std::string(head->method_string());
    target = std::string(head->target());
    request_id = request_id_from((*head)["X-Request-Id"]);
}

void Exchange::record(Metrics& metrics, const Log& log, unsigned status) const {
    const auto elapsed = Clock::now() - received;
    metrics.request(route, static_cast<int>(status), elapsed);
    log.request(fmt::format("{} {} {} {} {:.3f}ms id={}", client, escape_for_log(method), escape_for_log(target),
                            status, std::chrono::duration<double, std::milli>(elapsed).count(), request_id));
}

std::optional<Refusal> refusal_for(error_code ec, bool request_expired, bool nothing_read, const Limits& limits) {
    if (request_expired) {
        return Refusal{408, "The request did not arrive within " + seconds_text(limits.request_timeout)};
    }
    if (ec == beast_http::error::header_limit || ec == beast_http::error::buffer_overflow) {
        return Refusal{431, fmt::format("The request line and headers are larger than {} bytes", limits.header_bytes)};
    }
    if (ec == beast_http::error::body_limit) {
        return Refusal{413, fmt::format("The body is larger than {} bytes", limits.body_bytes)};
    }
    if (ec == beast_http::error::end_of_stream || ec == asio::error::eof || ec == asio::error::connection_reset ||
        ec == asio::error::operation_aborted || nothing_read) {
        return std::nullopt;  // the client went away (or the server is closing it): nobody to answer
    }
    return Refusal{400, "Malformed HTTP request: " + ec.message()};
}

Session::Session(Server::Impl& server, tcp::socket socket)
    : server_(server), limits_(server.options.limits), stream_(std::move(socket)),
      buffer_(limits_.header_bytes + 16 * 1024), request_deadline_(stream_.get_executor()) {
    error_code ec;
    stream_.socket().set_option(tcp::no_delay(true), ec);
    auto endpoint = stream_.socket().remote_endpoint(ec);
    if (!ec) exchange_.client = fmt::format("{}:{}", endpoint.address().to_string(), endpoint.port());
    server_.metrics.connection_opened();
}

Session::~Session() {
    server_.metrics.connection_closed();
    server_.remove(this);
}

void Session::start() {
    server_.add(this, shared_from_this());
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->wait_for_request(); });
}

void Session::drain() {
    if (state_ == State::idle) close();
}

void Session::close() {
    state_ = State::closed;
    request_deadline_.cancel();  // lets go of the session
    error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
}

// Waits for the first bytes of the next request within the idle deadline; its expiry closes the connection.
void Session::wait_for_request() {
    if (state_ == State::closed) return;
    if (server_.is_draining.load()) return close();
    state_ = State::idle;
    if (buffer_.size() > 0) return read_head();  // a pipelined request is already here
    stream_.expires_after(limits_.idle_timeout);
    auto on_first_bytes = [self = shared_from_this()](error_code ec, std::size_t n) {
        self->buffer_.commit(n);
        if (ec || self->state_ == State::closed) return self->close();
        self->read_head();
    };
    stream_.async_read_some(buffer_.prepare(scratch_.size()), std::move(on_first_bytes));
}

void Session::read_head() {
    state_ = State::reading_head;
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(limits_.header_bytes));
    parser_->body_limit(limits_.body_bytes);
    stream_.expires_never();
    start_request_deadline();
    beast_http::async_read_header(stream_, buffer_, *parser_,
                                  [self = shared_from_this()](error_code ec, std::size_t) { self->on_head(ec); });
}

void Session::start_request_deadline() {
    request_expired_ = false;
    request_deadline_.expires_after(limits_.request_timeout);
    request_deadline_.async_wait([self = shared_from_this()](error_code ec) {
        const bool reading = self->state_ == State::reading_head || self->state_ == State::reading_body;
        // A wait that completed as the request did, or that a later request's deadline replaced, expires nothing.
        if (ec || !reading || self->request_deadline_.expiry() > Clock::now()) return;
        self->request_expired_ = true;
        error_code ignored;
        self->stream_.socket().cancel(ignored);
    });
}

// The fields framing depends on, every line of them: Beast keeps each line, but frames the body by its own rules.
Head head_of(const beast_http::request_header<>& req) {
    Head head{req.version(), {}, req.count(beast_http::field::host), req.count(beast_http::field::content_length) > 0};
    auto [first, last] = req.equal_range(beast_http::field::transfer_encoding);
    for (auto it = first; it != last; ++it) {
        head.transfer_encodings.emplace_back(it->value().data(), it->value().size());
    }
    return head;
}

void Session::on_head(error_code ec) {
    if (ec) return on_read_error(ec);
    state_ = State::reading_body;
    auto& req = parser_->get();
    const Framing framing = framing_of(head_of(req.base()));
    if (framing.status != 0) return refuse(framing.status, framing.message);
    last_request_ = framing.last_request;
    if (req.count(beast_http::field::content_encoding) > 0) {
        return refuse(415, "Content-Encoding is not supported: send the body as plain JSON");
    }
    if (beast::iequals(req[beast_http::field::expect], "100-continue")) {
        static constexpr std::string_view go_on = "HTTP/1.1 100 Continue\r\n\r\n";
        return asio::async_write(stream_, asio::buffer(go_on.data(), go_on.size()),
                                 [self = shared_from_this()](error_code write_ec, std::size_t) {
                                     if (write_ec) return self->on_read_error(write_ec);
                                     self->read_body();
                                 });
    }
    read_body();
}

void Session::read_body() {
    beast_http::async_read(stream_, buffer_, *parser_,
                           [self = shared_from_this()](error_code ec, std::size_t) { self->on_request(ec); });
}

void Session::on_read_error(error_code ec) {
    request_deadline_.cancel();
    if (state_ == State::closed) return;
    const bool nothing_read = state_ == State::reading_head && buffer_.size() == 0 && !parser_->got_some();
    const auto refusal = refusal_for(ec, request_expired_, nothing_read, limits_);
    if (!refusal) return close();
    refuse(refusal->status, refusal->message);
}

void Session::on_request(error_code ec) {
    if (ec) return on_read_error(ec);
    request_deadline_.cancel();
    state_ = State::handling;
    auto& req = parser_->get();
    keep_alive_ = req.keep_alive() && !last_request_;
    exchange_.begin(&req.base());
    Request request{std::string(req.method_string()), std::string(req.target()), std::move(req.body()),
                    exchange_.request_id};
    server_.dispatch(std::move(request), shared_from_this());
}

// Answers a request the server will not read to the end, then closes the connection.
void Session::refuse(int status, const std::string& message) {
    request_deadline_.cancel();
    closing_ = true;
    exchange_.begin(parser_ && parser_->is_header_done() ? &parser_->get().base() : nullptr);
    respond({status, message_body(message), "other"});
}

void Session::respond(Response response) {
    if (state_ == State::closed) return;
    state_ = State::writing;
    res_ = {};
    res_.version(11);
    res_.result(static_cast<unsigned>(response.status));
    res_.set(beast_http::field::content_type, response.content_type);
    res_.set("X-Request-Id", exchange_.request_id);
    if (response.retry_after_seconds > 0) {
        res_.set(beast_http::field::retry_after, std::to_string(response.retry_after_seconds));
    }
    closing_ = closing_ || !keep_alive_ || server_.is_draining.load();
    res_.keep_alive(!closing_);
    if (exchange_.method == "HEAD") {
        res_.content_length(response.body.size());  // a HEAD's answer is the GET's head, without its body
    } else {
        res_.body() = std::move(response.body);
        res_.prepare_payload();
    }
    exchange_.route = response.route;
    stream_.expires_after(limits_.write_timeout);
    beast_http::async_write(stream_, res_,
                            [self = shared_from_this()](error_code ec, std::size_t) { self->on_write(ec); });
}

void Session::on_write(error_code ec) {
    exchange_.record(server_.metrics, server_.options.log, res_.result_int());
    if (ec || state_ == State::closed) return close();
    if (closing_) return linger();
    wait_for_request();
}

// After refusing a request whose body is still arriving, reads and drops what comes for a moment before
// closing: closing with unread data makes the kernel send a reset, which can destroy the answer in flight.
void Session::linger() {
    error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    state_ = State::idle;
    stream_.expires_after(std::chrono::seconds(1));
    discard();
}

void Session::discard() {
    stream_.async_read_some(asio::buffer(scratch_), [self = shared_from_this()](error_code ec, std::size_t n) {
        self->discarded_ += n;
        if (ec || self->discarded_ > 1024 * 1024 || self->state_ == State::closed) return self->close();
        self->discard();
    });
}

}  // namespace allocation::http
