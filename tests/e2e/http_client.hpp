// HTTP clients for end-to-end tests, over Boost.Beast's synchronous API: a keep-alive client for ordinary
// requests, and a raw connection that sends exactly the bytes a test writes (slow, malformed, pipelined).
#pragma once

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace e2e {

namespace beast = boost::beast;
namespace http = beast::http;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

/// One answer from the server.
struct HttpResponse {
    int status = 0;
    std::string body;
    http::fields headers;
    bool keep_alive = true;

    std::string get_header_value(std::string_view name) const {
        auto it = headers.find(beast::string_view(name.data(), name.size()));
        return it == headers.end() ? std::string() : std::string(it->value());
    }
};

inline HttpResponse to_response(http::response<http::string_body>& res) {
    HttpResponse out;
    out.status = static_cast<int>(res.result_int());
    out.keep_alive = res.keep_alive();
    for (const auto& field : res) out.headers.insert(field.name_string(), field.value());
    out.body = std::move(res.body());
    return out;
}

/// The bytes of an HTTP/1.1 request, with Content-Length when there is a body.
inline std::string request_text(std::string_view method, std::string_view target, std::string_view body = {},
                                std::string_view extra_headers = {}) {
    std::string text = std::string(method) + " " + std::string(target) + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    if (!body.empty() || method == "POST") {
        text += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
    }
    text += std::string(extra_headers) + "\r\n";
    return text + std::string(body);
}

/// A connection that writes what it is told and reads answers as they come, each with a deadline.
class RawConnection {
public:
    explicit RawConnection(int port) : stream_(ioc_) {
        stream_.expires_after(5s);
        stream_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)));
    }

    /// Writes `bytes`; false when the server has closed the connection.
    bool send(std::string_view bytes, std::chrono::milliseconds timeout = 5s) {
        beast::error_code ec;
        stream_.expires_after(timeout);
        asio::write(stream_, asio::buffer(bytes.data(), bytes.size()), ec);
        return !ec;
    }

    /// The next answer, or nothing when the connection closed or `timeout` passed first. The answer to a HEAD
    /// (`to_head`) is read as a head alone: whatever follows it is the next answer's.
    std::optional<HttpResponse> read(std::chrono::milliseconds timeout = 10s, bool to_head = false) {
        http::response_parser<http::string_body> parser;
        parser.skip(to_head);
        parser.body_limit(16 * 1024 * 1024);
        beast::error_code ec;
        stream_.expires_after(timeout);
        http::read(stream_, buffer_, parser, ec);
        if (ec) return std::nullopt;
        return to_response(parser.get());
    }

    /// True when the server closes the connection (EOF or reset) within `timeout`, dropping anything it sends.
    bool closed_by_server(std::chrono::milliseconds timeout = 10s) {
        stream_.expires_after(timeout);
        char scratch[4096];
        for (;;) {
            beast::error_code ec;
            stream_.read_some(asio::buffer(scratch), ec);
            if (ec == beast::error::timeout) return false;
            if (ec) return true;
        }
    }

private:
    asio::io_context ioc_;
    beast::tcp_stream stream_;
    beast::flat_buffer buffer_;
};

/// A keep-alive client with the shape the tests use: Get and Post answer an optional response (nothing when
/// the server could not be reached or did not answer in time). It reconnects once when a kept connection has
/// been closed by the server (a fresh one that fails is not retried).
class HttpClient {
public:
    explicit HttpClient(int port, std::chrono::milliseconds timeout = 30s) : port_(port), timeout_(timeout) {}

    std::optional<HttpResponse> Get(const std::string& target, const std::string& extra_headers = {}) {
        return request("GET", target, {}, extra_headers);
    }
    std::optional<HttpResponse> Post(const std::string& target, const std::string& body,
                                     const std::string& /*content_type*/ = "application/json",
                                     const std::string& extra_headers = {}) {
        return request("POST", target, body, extra_headers);
    }

    std::optional<HttpResponse> request(std::string_view method, const std::string& target, const std::string& body,
                                        const std::string& extra_headers) {
        const std::string text = request_text(method, target, body, extra_headers);
        for (int attempt = 0; attempt < 2; ++attempt) {
            const bool reused = connection_.has_value();
            try {
                if (!connection_) connection_.emplace(port_);
                if (connection_->send(text, timeout_)) {
                    if (auto answer = connection_->read(timeout_)) {
                        if (!answer->keep_alive) connection_.reset();
                        return answer;
                    }
                }
            } catch (const std::exception&) {
                // not reachable
            }
            connection_.reset();
            if (!reused) break;  // only a kept connection the server closed meanwhile is worth a second try
        }
        return std::nullopt;
    }

private:
    int port_;
    std::chrono::milliseconds timeout_;
    std::optional<RawConnection> connection_;
};

}  // namespace e2e
