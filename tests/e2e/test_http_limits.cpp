// The HTTP server's limits end to end: every bound a client could push on, with the status it answers, against
// the real allocation-server on a loopback port.
#include <poll.h>
#include <sqlite3.h>
#include <sys/socket.h>

#include <atomic>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "processes.hpp"
#include "support/catch.hpp"

using nlohmann::json;
using namespace e2e;

namespace {

std::string message_of(const HttpResponse& res) { return json::parse(res.body).value("message", ""); }

/// A kernel figure of the process, from /proc/<pid>/status, in KiB ("VmRSS", "VmHWM").
long proc_status_kib(pid_t pid, const std::string& field) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind(field + ":", 0) == 0) return std::stol(line.substr(field.size() + 1));
    }
    return -1;
}

/// Holds SQLite's write lock on a database file (BEGIN EXCLUSIVE) until released, as another program might.
class WriteLock {
public:
    explicit WriteLock(const fs::path& path) {
        REQUIRE(sqlite3_open(path.c_str(), &db_) == SQLITE_OK);
        REQUIRE(sqlite3_exec(db_, "PRAGMA journal_mode = WAL; BEGIN EXCLUSIVE", nullptr, nullptr, nullptr) == SQLITE_OK);
    }
    WriteLock(const WriteLock&) = delete;
    WriteLock& operator=(const WriteLock&) = delete;
    ~WriteLock() { release(); }
    void release() {
        if (db_ == nullptr) return;
        sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
        sqlite3_close(db_);
        db_ = nullptr;
    }

private:
    sqlite3* db_ = nullptr;
};

void add_batch(HttpClient& client, const std::string& ref, const std::string& sku, int qty) {
    auto res = client.Post("/add_batch", json{{"ref", ref}, {"sku", sku}, {"qty", qty}, {"eta", nullptr}}.dump());
    REQUIRE(res);
    REQUIRE(res->status == 201);
}

}  // namespace

TEST_CASE("a request line and headers over the limit are answered 431", "[e2e][http][limits]") {
    Server server({"--memory", "--header-limit", "1024"});
    RawConnection small(server.port());
    REQUIRE(small.send(request_text("GET", "/health", {}, "X-Pad: " + std::string(800, 'a') + "\r\n")));
    auto fine = small.read();
    REQUIRE(fine);
    CHECK(fine->status == 200);

    RawConnection big(server.port());
    REQUIRE(big.send(request_text("GET", "/health", {}, "X-Pad: " + std::string(1100, 'a') + "\r\n")));
    auto refused = big.read();
    REQUIRE(refused);
    CHECK(refused->status == 431);
    CHECK_THAT(message_of(*refused), Catch::Contains("larger than 1024 bytes"));
    CHECK(big.closed_by_server());

    SECTION("the default is 8 KiB") {
        Server defaults({"--memory"});
        RawConnection over(defaults.port());
        REQUIRE(over.send(request_text("GET", "/health", {}, "X-Pad: " + std::string(9000, 'a') + "\r\n")));
        auto answer = over.read();
        REQUIRE(answer);
        CHECK(answer->status == 431);
    }
}

TEST_CASE("a request that does not arrive within the request timeout is answered 408", "[e2e][http][limits]") {
    Server server({"--memory", "--request-timeout", "0.5"});
    SECTION("a head that stops half way") {
        RawConnection slow(server.port());
        REQUIRE(slow.send("GET /health HTTP/1.1\r\nHost: x\r\n"));
        auto answer = slow.read(5s);
        REQUIRE(answer);
        CHECK(answer->status == 408);
        CHECK(slow.closed_by_server());
    }
    SECTION("a head trickled one line at a time never outlives the deadline") {
        RawConnection slow(server.port());
        REQUIRE(slow.send("GET /health HTTP/1.1\r\n"));
        for (int i = 0; i < 8; ++i) {
            std::this_thread::sleep_for(100ms);
            if (!slow.send("X-Slow: " + std::to_string(i) + "\r\n")) break;
        }
        auto answer = slow.read(5s);
        REQUIRE(answer);
        CHECK(answer->status == 408);
    }
    SECTION("a body that stops half way") {
        RawConnection slow(server.port());
        REQUIRE(slow.send("POST /allocate HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"orderid\":"));
        auto answer = slow.read(5s);
        REQUIRE(answer);
        CHECK(answer->status == 408);
    }
    HttpClient client(server.port());
    auto health = client.Get("/health");
    REQUIRE(health);
    CHECK(health->status == 200);
}

TEST_CASE("a body over the limit by Content-Length is answered 413 before it is sent", "[e2e][http][limits]") {
    Server server({"--memory"});
    RawConnection connection(server.port());
    REQUIRE(connection.send("POST /allocate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                            "Content-Length: 10000000\r\n\r\n"));
    auto answer = connection.read(5s);  // no byte of the body was sent: the server did not wait for it
    REQUIRE(answer);
    CHECK(answer->status == 413);
    CHECK_THAT(message_of(*answer), Catch::Contains("larger than 65536 bytes"));
    CHECK(connection.closed_by_server());

    SECTION("--body-limit sets it") {
        Server small({"--memory", "--body-limit", "100"});
        RawConnection c(small.port());
        const std::string body = R"({"orderid": "o", "sku": "S", "qty": 1, "pad": ")" + std::string(100, 'x') + "\"}";
        REQUIRE(c.send(request_text("POST", "/allocate", body)));
        auto refused = c.read();
        REQUIRE(refused);
        CHECK(refused->status == 413);
        CHECK_THAT(message_of(*refused), Catch::Contains("larger than 100 bytes"));
    }
}

TEST_CASE("an oversized chunked body is refused with 413 while the server's memory stays bounded",
          "[e2e][http][limits]") {
    Server server({"--memory"});
    const long rss_before = proc_status_kib(server.process().pid(), "VmRSS");
    REQUIRE(rss_before > 0);

    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<std::uint16_t>(server.port()));
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    const std::string head = "POST /allocate HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
    REQUIRE(::send(fd, head.data(), head.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(head.size()));

    // Up to 200 MiB in chunks of 16 KiB, until the server answers or stops reading.
    const std::string chunk = "4000\r\n" + std::string(0x4000, 'x') + "\r\n";
    std::string answer;
    std::size_t sent = 0;
    while (sent < 200u * 1024 * 1024 && answer.empty()) {
        pollfd p{fd, POLLIN | POLLOUT, 0};
        if (::poll(&p, 1, 5000) <= 0) break;
        if (p.revents & POLLIN) {
            char buffer[4096];
            ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
            if (n > 0) answer.assign(buffer, static_cast<std::size_t>(n));
            break;
        }
        ssize_t n = ::send(fd, chunk.data(), chunk.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && errno != EAGAIN) break;
        if (n > 0) sent += static_cast<std::size_t>(n);
    }
    ::close(fd);
    INFO("sent " << sent << " bytes");
    CHECK(answer.rfind("HTTP/1.1 413", 0) == 0);
    CHECK(sent < 16u * 1024 * 1024);  // it stopped reading long before the 200 MiB
    const long peak = proc_status_kib(server.process().pid(), "VmHWM");
    INFO("VmRSS before " << rss_before << " KiB, peak " << peak << " KiB");
    CHECK(peak - rss_before < 16 * 1024);
}

TEST_CASE("a body nested deeper than 64 levels is a 400 whatever the body limit, and memory stays bounded",
          "[e2e][http][limits]") {
    Server server({"--memory", "--body-limit", "67108864"});
    HttpClient client(server.port());
    auto shallow = client.Post("/allocate", R"({"orderid": "o", "sku": "LAMP", "qty": 1, "x": )" +
                                                std::string(63, '[') + std::string(63, ']') + "}");
    REQUIRE(shallow);
    CHECK(shallow->status == 400);
    CHECK(message_of(*shallow) == "Invalid sku LAMP");
    const long before = proc_status_kib(server.process().pid(), "VmRSS");
    auto deep = client.Post("/allocate", std::string(30'000'000, '['));
    REQUIRE(deep);
    CHECK(deep->status == 400);
    CHECK(message_of(*deep) == "The JSON body is nested deeper than 64 levels");
    const long peak = proc_status_kib(server.process().pid(), "VmHWM");
    INFO("VmRSS before " << before << " KiB, peak " << peak << " KiB");
    CHECK(peak - before < 256 * 1024);  // the 30 MB body and the read buffer: not the 2 GB of 30 million arrays
}

TEST_CASE("a body with any Content-Encoding is answered 415", "[e2e][http][limits]") {
    const std::string encoding = GENERATE(as<std::string>{}, "gzip", "deflate", "br", "identity");
    Server server({"--memory"});
    RawConnection connection(server.port());
    // 58 bytes that would inflate to a lot: the server must not look inside.
    const std::string body(58, '\x78');
    REQUIRE(connection.send("POST /add_batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Encoding: " +
                            encoding + "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body));
    auto answer = connection.read();
    REQUIRE(answer);
    CHECK(answer->status == 415);
    CHECK_THAT(message_of(*answer), Catch::Contains("Content-Encoding"));
}

TEST_CASE("keep-alive connections serve several requests, then close when idle too long", "[e2e][http][limits]") {
    Server server({"--memory", "--idle-timeout", "0.3"});
    RawConnection connection(server.port());
    for (int i = 0; i < 3; ++i) {
        REQUIRE(connection.send(request_text("GET", "/health")));
        auto answer = connection.read();
        REQUIRE(answer);
        CHECK(answer->status == 200);
        CHECK(answer->keep_alive);
    }
    CHECK(connection.closed_by_server(5s));
}

TEST_CASE("pipelined requests are all answered, in order", "[e2e][http][limits]") {
    Server server({"--memory"});
    RawConnection connection(server.port());
    const std::string batch = json{{"ref", "b1"}, {"sku", "LAMP"}, {"qty", 10}, {"eta", nullptr}}.dump();
    const std::string line = json{{"orderid", "o1"}, {"sku", "LAMP"}, {"qty", 2}}.dump();
    REQUIRE(connection.send(request_text("POST", "/add_batch", batch) + request_text("POST", "/allocate", line) +
                            request_text("GET", "/allocations/o1") + request_text("GET", "/products/NONE")));
    const std::vector<int> expected = {201, 202, 200, 404};
    for (int status : expected) {
        auto answer = connection.read();
        REQUIRE(answer);
        CHECK(answer->status == status);
    }
}

TEST_CASE("connections beyond the cap are answered 503 with Retry-After", "[e2e][http][limits]") {
    Server server({"--memory", "--max-connections", "2"});
    // A connection that was served: the start-up probe's connection may still be closing, and count, for a moment.
    auto served = [&] {
        for (int attempt = 0; attempt < 100; ++attempt) {
            auto connection = std::make_unique<RawConnection>(server.port());
            if (connection->send(request_text("GET", "/health"))) {
                auto answer = connection->read();
                if (answer && answer->status == 200) return connection;
            }
            std::this_thread::sleep_for(20ms);
        }
        FAIL("no connection was let in");
        return std::unique_ptr<RawConnection>();
    };
    auto first = served();
    auto second = served();

    RawConnection third(server.port());
    auto refused = third.read(5s);
    REQUIRE(refused);
    CHECK(refused->status == 503);
    CHECK(refused->get_header_value("Retry-After") == "1");
    CHECK(third.closed_by_server());

    // The two open connections keep being served, and once one closes a new one is let in.
    REQUIRE(first->send(request_text("GET", "/health")));
    auto still = first->read();
    REQUIRE(still);
    CHECK(still->status == 200);
    second.reset();
    CHECK(wait_until([&] {
        HttpClient client(server.port(), 2s);
        auto res = client.Get("/health");
        return res && res->status == 200;
    }));
}

#if ALLOCATION_E2E_SQLITE
TEST_CASE("a full queue is answered 503 with Retry-After, and what was queued completes", "[e2e][http][limits]") {
    TempDir dir;
    const fs::path db = dir / "allocation.db";
    Server server({"--db", db.string(), "--threads", "1", "--queue-limit", "1"});
    HttpClient setup(server.port());
    add_batch(setup, "b1", "LAMP", 10);

    // Another program holds the write lock: the one worker waits for it with the first allocation, the second
    // allocation waits in the queue, and there is no room for a third.
    WriteLock lock(db);
    std::vector<std::thread> clients;
    std::vector<int> statuses(2, 0);
    for (int i = 0; i < 2; ++i) {
        clients.emplace_back([&, i] {
            HttpClient client(server.port());
            auto res = client.Post("/allocate", json{{"orderid", "o" + std::to_string(i)}, {"sku", "LAMP"}, {"qty", 1}}.dump());
            statuses[static_cast<std::size_t>(i)] = res ? res->status : -1;
        });
        std::this_thread::sleep_for(300ms);  // in turn: the first is on the worker before the second arrives
    }
    HttpClient third(server.port());
    auto refused = third.Post("/allocate", json{{"orderid", "o3"}, {"sku", "LAMP"}, {"qty", 1}}.dump());
    REQUIRE(refused);
    CHECK(refused->status == 503);
    CHECK(refused->get_header_value("Retry-After") == "1");
    CHECK_THAT(message_of(*refused), Catch::Contains("busy"));
    auto health = third.Get("/health");  // the server's own routes need no worker
    REQUIRE(health);
    CHECK(health->status == 200);
    auto read = third.Get("/allocations/o0");  // nor does a read of the view, which never waits for the writer
    REQUIRE(read);
    CHECK(read->status == 404);

    lock.release();
    for (auto& t : clients) t.join();
    CHECK(statuses == std::vector<int>{202, 202});
    auto view = setup.Get("/allocations/o1");
    REQUIRE(view);
    CHECK(view->status == 200);
}

TEST_CASE("while the database cannot be opened yet, /ready says starting and requests get 503", "[e2e][http][ready]") {
    TempDir dir;
    const fs::path db = dir / "allocation.db";
    WriteLock lock(db);  // a backup, say, holds the file as the server starts
    Server server({"--db", db.string()}, {}, Await::listening);
    HttpClient client(server.port(), 2s);

    auto ready = client.Get("/ready");
    REQUIRE(ready);
    CHECK(ready->status == 503);
    CHECK(json::parse(ready->body)["status"] == "starting");
    auto post = client.Post("/allocate", json{{"orderid", "o"}, {"sku", "LAMP"}, {"qty", 1}}.dump());
    REQUIRE(post);
    CHECK(post->status == 503);
    CHECK(post->get_header_value("Retry-After") == "1");
    auto health = client.Get("/health");
    REQUIRE(health);
    CHECK(health->status == 200);

    lock.release();
    CHECK(wait_until([&] {
        auto res = client.Get("/ready");
        return res && res->status == 200;
    }));
    CHECK(json::parse(client.Get("/ready")->body) ==
          json{{"status", "ready"}, {"database", "ok"}, {"outbox", {{"undelivered", 0}, {"oldest_age_seconds", 0.0}}}});
}
#endif

TEST_CASE("clients that send their headers slowly do not hold up the others", "[e2e][http][limits]") {
    Server server({"--memory", "--threads", "2"});
    std::vector<std::unique_ptr<RawConnection>> slow;
    for (int i = 0; i < 40; ++i) {
        slow.push_back(std::make_unique<RawConnection>(server.port()));
        REQUIRE(slow.back()->send("POST /allocate HTTP/1.1\r\nHost: x\r\n"));
    }
    HttpClient client(server.port(), 2s);
    add_batch(client, "b1", "LAMP", 100);
    for (int round = 0; round < 3; ++round) {
        for (auto& connection : slow) connection->send("X-Slow: " + std::to_string(round) + "\r\n");
        auto health = client.Get("/health");
        REQUIRE(health);
        CHECK(health->status == 200);
        auto allocated = client.Post("/allocate", json{{"orderid", "o" + std::to_string(round)}, {"sku", "LAMP"}, {"qty", 1}}.dump());
        REQUIRE(allocated);
        CHECK(allocated->status == 202);
        std::this_thread::sleep_for(200ms);
    }
}
