// How the server frames requests (RFC 9112), end to end: a request whose body length the server cannot be sure
// of is refused and its connection closed, so that nothing sent after it on that connection runs; HEAD, the
// absolute form of a target and Host, against the real allocation-server on a loopback port.
#include <charconv>
#include <string>

#include <nlohmann/json.hpp>

#include "processes.hpp"
#include "support/catch.hpp"

using nlohmann::json;
using namespace e2e;

namespace {

std::string message_of(const HttpResponse& res) { return json::parse(res.body).value("message", ""); }

std::string batch_body(const std::string& sku) {
    return json{{"ref", "batch-" + sku}, {"sku", sku}, {"qty", 10}, {"eta", nullptr}}.dump();
}

/// A request that would create a batch of `sku`, sent where the next request on a connection would be.
std::string smuggled_add_batch(const std::string& sku) { return request_text("POST", "/add_batch", batch_body(sku)); }

/// `body` as one chunk and the last chunk.
std::string chunked(const std::string& body) {
    char hex[16];
    const auto end = std::to_chars(hex, hex + sizeof hex, body.size(), 16).ptr;
    return std::string(hex, end) + "\r\n" + body + "\r\n0\r\n\r\n";
}

/// Whether the server knows a product `sku` (asked on a connection of its own).
bool product_exists(const Server& server, const std::string& sku) {
    HttpClient client(server.port());
    auto res = client.Get("/products/" + sku);
    REQUIRE(res);
    REQUIRE((res->status == 200 || res->status == 404));
    return res->status == 200;
}

/// Sends `bytes` on a fresh connection and expects one answer of `status`, then the connection closed by the
/// server with nothing else answered; no product `sku` exists afterwards.
void expect_refused_and_closed(const Server& server, const std::string& bytes, int status, const std::string& sku) {
    RawConnection connection(server.port());
    REQUIRE(connection.send(bytes));
    auto answer = connection.read();
    REQUIRE(answer);
    CHECK(answer->status == status);
    CHECK_FALSE(answer->keep_alive);
    CHECK(connection.closed_by_server());
    CHECK_FALSE(product_exists(server, sku));
}

}  // namespace

TEST_CASE("a Transfer-Encoding whose final coding is not chunked is a 400, and nothing after it runs",
          "[e2e][http][framing]") {
    Server server({"--memory"});
    const std::string coding = GENERATE(as<std::string>{}, "identity", "x", "chunked, identity", "chunked, chunked");
    CAPTURE(coding);
    // Framed as the server would have framed it: no body, so the smuggled request would have been the next one.
    expect_refused_and_closed(server,
                              "GET /health HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: " + coding + "\r\n\r\n" +
                                  smuggled_add_batch("SMUGGLED"),
                              400, "SMUGGLED");
}

TEST_CASE("Transfer-Encoding beside Content-Length is a 400: neither frames the body", "[e2e][http][framing]") {
    Server server({"--memory"});
    const std::string coding = GENERATE(as<std::string>{}, "x", "chunked");
    CAPTURE(coding);
    const std::string body = batch_body("FRAMED");
    const std::string head = "POST /add_batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                             "Content-Length: " + std::to_string(body.size()) + "\r\nTransfer-Encoding: " + coding;
    expect_refused_and_closed(server, head + "\r\n\r\n" + body + smuggled_add_batch("SMUGGLED"), 400, "SMUGGLED");
    CHECK_FALSE(product_exists(server, "FRAMED"));
}

TEST_CASE("a transfer coding other than chunked is a 501, and nothing after it runs", "[e2e][http][framing]") {
    Server server({"--memory"});
    RawConnection connection(server.port());
    REQUIRE(connection.send("POST /add_batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                            "Transfer-Encoding: gzip, chunked\r\n\r\n" +
                            chunked(batch_body("ZIPPED")) + smuggled_add_batch("SMUGGLED")));
    auto answer = connection.read();
    REQUIRE(answer);
    CHECK(answer->status == 501);
    CHECK(message_of(*answer) == "Transfer-Encoding 'gzip' is not implemented");
    CHECK(connection.closed_by_server());
    CHECK_FALSE(product_exists(server, "ZIPPED"));
    CHECK_FALSE(product_exists(server, "SMUGGLED"));
}

TEST_CASE("a chunked request in HTTP/1.0 is answered, then its connection closes", "[e2e][http][framing]") {
    Server server({"--memory"});
    RawConnection connection(server.port());
    REQUIRE(connection.send("POST /add_batch HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\n"
                            "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" +
                            chunked(batch_body("OLD")) + smuggled_add_batch("SMUGGLED")));
    auto answer = connection.read();
    REQUIRE(answer);
    CHECK(answer->status == 201);
    CHECK_FALSE(answer->keep_alive);
    CHECK(connection.closed_by_server());
    CHECK(product_exists(server, "OLD"));
    CHECK_FALSE(product_exists(server, "SMUGGLED"));
}

TEST_CASE("a chunked request in HTTP/1.1 is answered and the connection kept", "[e2e][http][framing]") {
    Server server({"--memory"});
    RawConnection connection(server.port());
    REQUIRE(connection.send("POST /add_batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                            "Transfer-Encoding: chunked\r\n\r\n" +
                            chunked(batch_body("NEW")) + smuggled_add_batch("NEXT")));
    for (int i = 0; i < 2; ++i) {
        auto answer = connection.read();
        REQUIRE(answer);
        CHECK(answer->status == 201);
        CHECK(answer->keep_alive);
    }
    CHECK(product_exists(server, "NEW"));
    CHECK(product_exists(server, "NEXT"));
}

TEST_CASE("a request without exactly one Host is a 400, and nothing after it runs", "[e2e][http][framing]") {
    Server server({"--memory"});
    const std::string hosts = GENERATE(as<std::string>{}, "", "Host: a\r\nHost: b\r\n");
    expect_refused_and_closed(server, "GET /health HTTP/1.1\r\n" + hosts + "\r\n" + smuggled_add_batch("SMUGGLED"),
                              400, "SMUGGLED");
    SECTION("an HTTP/1.0 request may have none") {
        RawConnection connection(server.port());
        REQUIRE(connection.send("GET /health HTTP/1.0\r\n\r\n"));
        auto answer = connection.read();
        REQUIRE(answer);
        CHECK(answer->status == 200);
    }
}

/// The answer to HEAD `target`, read as a head alone, checked to be followed on its connection by the answer to
/// a GET: the HEAD's answer held no body to misread as the next answer.
HttpResponse answer_to_head(const Server& server, const std::string& target) {
    RawConnection connection(server.port());
    REQUIRE(connection.send(request_text("HEAD", target) + request_text("GET", "/health")));
    auto head = connection.read(10s, true);
    REQUIRE(head);
    CHECK(head->body.empty());
    auto next = connection.read();
    REQUIRE(next);
    CHECK(next->status == 200);
    CHECK(next->body == R"({"status":"ok"})");
    return *head;
}

TEST_CASE("HEAD is answered on every GET route with the GET's head and no body", "[e2e][http][framing]") {
    Server server({"--memory"});
    HttpClient client(server.port());
    REQUIRE(client.Post("/add_batch", batch_body("LAMP")));
    for (const std::string target : {"/health", "/ready", "/metrics", "/products/LAMP", "/allocations/nobody"}) {
        CAPTURE(target);
        auto get = client.Get(target);
        REQUIRE(get);
        const HttpResponse head = answer_to_head(server, target);
        CHECK(head.status == get->status);
        CHECK(head.get_header_value("Content-Type") == get->get_header_value("Content-Type"));
        if (target != "/metrics") {  // the metrics change between the two requests
            CHECK(head.get_header_value("Content-Length") == std::to_string(get->body.size()));
        }
    }
    SECTION("a path no GET route takes: the answer's message names HEAD") {
        const HttpResponse unknown = answer_to_head(server, "/nowhere");
        CHECK(unknown.status == 404);
        CHECK(unknown.get_header_value("Content-Length") ==
              std::to_string(json{{"message", "No route for HEAD /nowhere"}}.dump().size()));
        CHECK(answer_to_head(server, "/allocate").status == 405);
    }
}

TEST_CASE("a target in absolute form is routed by its path", "[e2e][http][framing]") {
    Server server({"--memory"});
    RawConnection connection(server.port());
    REQUIRE(connection.send(request_text("GET", "http://127.0.0.1/health") +
                            request_text("POST", "http://127.0.0.1/add_batch", batch_body("ABSOLUTE"))));
    auto health = connection.read();
    REQUIRE(health);
    CHECK(health->status == 200);
    auto added = connection.read();
    REQUIRE(added);
    CHECK(added->status == 201);
    CHECK(product_exists(server, "ABSOLUTE"));
}
