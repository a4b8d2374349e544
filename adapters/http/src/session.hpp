// One client connection: reads requests within the limits, hands each to the server's dispatch, writes the
// answers, and records each exchange in the request log. Private to the adapter.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "allocation/adapters/http/framing.hpp"
#include "server_impl.hpp"

namespace allocation::http {

namespace beast = boost::beast;
namespace beast_http = beast::http;
using Clock = std::chrono::steady_clock;

/// What the request log and the metrics say of one exchange: who asked what, when, and which route answered.
struct Exchange {
    std::string client = "-";
    std::string method = "-";  // "-" for a request refused before its head was read
    std::string target = "-";
    std::string request_id;
    Clock::time_point received{};
    std::string_view route = "other";

    /// A request whose head was read (`head` is nullptr when it was not).
    void begin(const beast_http::request_header<>* head);
    /// Counts it in `metrics` and writes its line to the request log.
    void record(Metrics& metrics, const Log& log, unsigned status) const;
};

/// What a failed read is answered with: 408, 431, 413 or 400 and a message; nothing when the client went away
/// (or the server closed the connection) and there is nobody to answer.
struct Refusal {
    int status;
    std::string message;
};
std::optional<Refusal> refusal_for(error_code ec, bool request_expired, bool nothing_read, const Limits& limits);

/// The fields of `req` that framing_of decides from.
Head head_of(const beast_http::request_header<>& req);

/// Deadlines go through the stream (beast::tcp_stream::expires_after) where their expiry closes the connection:
/// idle keep-alive, writing an answer, lingering. The request deadline cannot, since the client must get its 408:
/// it is one timer, started at the request's first byte, that cancels the read without closing.
/// Pipelined requests are read from the buffer in turn, so they are answered in order.
class Session : public std::enable_shared_from_this<Session> {
public:
    Session(Server::Impl& server, tcp::socket socket);
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;
    ~Session();

    void start();
    /// On the session's strand when the server begins to drain: a connection waiting for a request closes now;
    /// one with a request under way (partly read, being handled, being answered) closes after its answer.
    void drain();
    /// Writes `response` to the request being answered. On the session's strand.
    void respond(Response response);
    /// Closes the connection now. On the session's strand.
    void close();
    auto executor() { return stream_.get_executor(); }

private:
    enum class State { idle, reading_head, reading_body, handling, writing, closed };

    void wait_for_request();
    void read_head();
    void on_head(error_code ec);
    void read_body();
    void on_request(error_code ec);
    void on_read_error(error_code ec);
    void refuse(int status, const std::string& message);
    void on_write(error_code ec);
    void linger();
    void discard();
    void start_request_deadline();

    Server::Impl& server_;
    const Limits& limits_;
    beast::tcp_stream stream_;
    beast::flat_buffer buffer_;
    std::optional<beast_http::request_parser<beast_http::string_body>> parser_;
    beast_http::response<beast_http::string_body> res_;
    asio::steady_timer request_deadline_;
    bool request_expired_ = false;
    State state_ = State::idle;
    bool keep_alive_ = true;
    bool last_request_ = false;  // the request's framing closes the connection after its answer
    bool closing_ = false;
    Exchange exchange_;
    std::array<char, 4096> scratch_{};  // what linger() reads and drops
    std::size_t discarded_ = 0;
};

}  // namespace allocation::http
