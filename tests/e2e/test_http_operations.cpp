// What an operator relies on, end to end: start-up errors, configuration from the environment, /ready and
// /metrics, the request log, and the drain on SIGTERM.
#include <stdlib.h>

#include <regex>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "processes.hpp"
#include "support/catch.hpp"

using nlohmann::json;
using namespace e2e;

namespace {

/// Sets an environment variable for the processes started while it lives.
class ScopedEnv {
public:
    ScopedEnv(const char* name, const std::string& value) : name_(name) { ::setenv(name, value.c_str(), 1); }
    ScopedEnv(const ScopedEnv&) = delete;
    ScopedEnv& operator=(const ScopedEnv&) = delete;
    ~ScopedEnv() { ::unsetenv(name_); }

private:
    const char* name_;
};

bool answers_health(int port) {
    HttpClient client(port, 2s);
    auto res = client.Get("/health");
    return res && res->status == 200;
}

/// Every line of `log`; the first is whatever the banner printed.
std::vector<std::string> lines_of(const std::string& log) {
    std::vector<std::string> lines;
    std::size_t start = 0;
    for (std::size_t end; (end = log.find('\n', start)) != std::string::npos; start = end + 1) {
        lines.push_back(log.substr(start, end - start));
    }
    return lines;
}

}  // namespace

TEST_CASE("a port already in use is an error that names the address, and the first server keeps it",
          "[e2e][http][operation]") {
    Server first({"--memory"});
    TempDir dir;
    auto second = run(ALLOCATION_SERVER_PATH, {"--memory", "--host", "127.0.0.1", "--port", std::to_string(first.port())},
                      dir.path());
    CHECK(second.exit_code == 1);
    CHECK_THAT(second.err, Catch::Contains("cannot listen on 127.0.0.1:" + std::to_string(first.port())));
    CHECK_THAT(second.err, Catch::Contains("in use"));
    CHECK(answers_health(first.port()));
}

TEST_CASE("every flag can come from its ALLOCATION_ variable, and a flag wins over it", "[e2e][http][operation]") {
    TempDir dir;
    const int env_port = free_port();
    ScopedEnv port("ALLOCATION_PORT", std::to_string(env_port));
    ScopedEnv memory("ALLOCATION_MEMORY", "true");
    ScopedEnv idle("ALLOCATION_IDLE_TIMEOUT", "0.2");
    SECTION("from the environment alone") {
        Process server(ALLOCATION_SERVER_PATH, {}, dir / "env.log");
        REQUIRE(wait_until([&] { return answers_health(env_port); }));
        RawConnection connection(env_port);
        REQUIRE(connection.send(request_text("GET", "/health")));
        REQUIRE(connection.read());
        CHECK(connection.closed_by_server(3s));  // ALLOCATION_IDLE_TIMEOUT took effect
        CHECK(wait_until([&] { return server.log().find("1 worker threads") != std::string::npos; }));  // the default
    }
    SECTION("a flag wins over its variable") {
        const int flag_port = free_port();
        Process server(ALLOCATION_SERVER_PATH, {"--port", std::to_string(flag_port)}, dir / "flag.log");
        REQUIRE(wait_until([&] { return answers_health(flag_port); }));
        CHECK_FALSE(answers_health(env_port));
    }
    SECTION("--help names each flag's variable") {
        auto help = run(ALLOCATION_SERVER_PATH, {"--help"}, dir.path());
        CHECK(help.exit_code == 0);
        for (const char* name : {"ALLOCATION_DB", "ALLOCATION_HOST", "ALLOCATION_PORT", "ALLOCATION_THREADS",
                                 "ALLOCATION_SYNCHRONOUS", "ALLOCATION_QUEUE_LIMIT", "ALLOCATION_MAX_CONNECTIONS",
                                 "ALLOCATION_REQUEST_TIMEOUT", "ALLOCATION_DRAIN_TIMEOUT", "ALLOCATION_GROUP_LIMIT"}) {
            CHECK_THAT(help.out, Catch::Contains(name));
        }
        CHECK_THAT(help.out, Catch::Contains("16 on SQLite, 4 on PostgreSQL, 1 in memory"));
        CHECK_THAT(help.out, Catch::Contains("64, or 1 on PostgreSQL and in memory"));
        CHECK_THAT(help.out, !Catch::Contains("--outbox"));  // the outbox is the only way out: nothing to choose
    }
    SECTION("a bad value is refused with the variable's name") {
        ScopedEnv bad("ALLOCATION_SYNCHRONOUS", "sometimes");
        auto refused = run(ALLOCATION_SERVER_PATH, {}, dir.path());
        CHECK(refused.exit_code != 0);
        CHECK_THAT(refused.err + refused.out, Catch::Contains("sometimes"));
    }
}

TEST_CASE("/metrics is Prometheus text that a real parser accepts, with the service's counters",
          "[e2e][http][operation]") {
    TempDir dir;
    Server server({"--memory"});
    HttpClient client(server.port());
    REQUIRE(client.Post("/add_batch", json{{"ref", "b1"}, {"sku", "LAMP"}, {"qty", 1}, {"eta", nullptr}}.dump())->status == 201);
    REQUIRE(client.Post("/allocate", json{{"orderid", "o1"}, {"sku", "LAMP"}, {"qty", 1}}.dump())->status == 202);
    REQUIRE(client.Post("/allocate", json{{"orderid", "o2"}, {"sku", "NOPE"}, {"qty", 1}}.dump())->status == 400);
    auto metrics = client.Get("/metrics");
    REQUIRE(metrics);
    CHECK(metrics->status == 200);
    CHECK_THAT(metrics->get_header_value("Content-Type"), Catch::StartsWith("text/plain; version=0.0.4"));
    write_file(dir / "metrics.txt", metrics->body);
    write_file(dir / "parse.py", R"(import sys
from prometheus_client.parser import text_string_to_metric_families
for family in text_string_to_metric_families(open(sys.argv[1]).read()):
    for sample in family.samples:
        labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
        print(f"{family.type} {sample.name}{{{labels}}} {sample.value}")
)");
    auto parsed = run("/usr/bin/python3", {(dir / "parse.py").string(), (dir / "metrics.txt").string()}, dir.path());
    INFO(parsed.err);
    REQUIRE(parsed.exit_code == 0);
    const std::string& out = parsed.out;
    CHECK_THAT(out, Catch::Contains("counter allocation_http_requests_total{route=allocate,status=202} 1.0"));
    CHECK_THAT(out, Catch::Contains("counter allocation_http_requests_total{route=allocate,status=400} 1.0"));
    CHECK_THAT(out, Catch::Contains("histogram allocation_http_request_duration_seconds_count{route=allocate} 2.0"));
    CHECK_THAT(out, Catch::Contains("histogram allocation_http_request_duration_seconds_bucket{le=+Inf,route=add_batch} 1.0"));
    CHECK_THAT(out, Catch::Contains("counter allocation_commands_total{command=Allocate,outcome=ok} 1.0"));
    CHECK_THAT(out, Catch::Contains("counter allocation_commands_total{command=Allocate,outcome=rejected} 1.0"));
    CHECK_THAT(out, Catch::Contains("counter allocation_concurrency_retries_total{} 0.0"));
    CHECK_THAT(out, Catch::Contains("counter allocation_command_groups_total{} 3.0"));  // in memory, each alone
    CHECK_THAT(out, Catch::Contains("counter allocation_grouped_commands_total{} 3.0"));
    CHECK_THAT(out, Catch::Contains("counter allocation_event_handler_failures_total{} 0.0"));
    CHECK_THAT(out, Catch::Contains("gauge allocation_http_open_connections{} 1.0"));
    CHECK_THAT(out, Catch::Contains("gauge allocation_worker_queue_depth{} 0.0"));
}

TEST_CASE("each request has one log line, with a request id that is echoed, and no request can forge a line",
          "[e2e][http][operation]") {
    Server server({"--memory"});
    HttpClient client(server.port());
    auto sane = client.Get("/health", "X-Request-Id: trace-42.a:b/c\r\n");
    REQUIRE(sane);
    CHECK(sane->get_header_value("X-Request-Id") == "trace-42.a:b/c");
    auto insane = client.Get("/health", "X-Request-Id: has spaces and \x7f\r\n");
    REQUIRE(insane);
    const std::string generated = insane->get_header_value("X-Request-Id");
    CHECK(std::regex_match(generated, std::regex("[0-9a-f]{16}")));
    auto forged = client.Get("/allocations/x%0A2026-01-01T00:00:00.000Z%20FORGED%0D%0A");
    REQUIRE(forged);
    CHECK(forged->status == 400);  // a control character is never part of an order id

    REQUIRE(server.process().stop() == std::optional<int>(0));
    const std::string log = server.log();
    INFO(log);
    CHECK_THAT(log, Catch::Contains("GET /health 200 "));
    CHECK_THAT(log, Catch::Contains("id=trace-42.a:b/c"));
    CHECK_THAT(log, Catch::Contains("id=" + generated));
    CHECK_THAT(log, Catch::Contains("/allocations/x%0A2026-01-01T00:00:00.000Z%20FORGED%0D%0A 400"));
    const std::regex stamped(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z .*)");
    std::size_t request_lines = 0;
    for (const auto& line : lines_of(log)) {
        CHECK(line.find("FORGED") != 0);
        if (std::regex_match(line, stamped) && line.find(" id=") != std::string::npos) ++request_lines;
    }
    CHECK(request_lines >= 4);  // /ready while starting, the three requests above
}

TEST_CASE("SIGTERM drains: /ready says draining, requests under way finish, idle connections close",
          "[e2e][http][operation]") {
    Server server({"--memory"});
    RawConnection idle(server.port());
    REQUIRE(idle.send(request_text("GET", "/health")));
    REQUIRE(idle.read());
    RawConnection asking(server.port());
    REQUIRE(asking.send("GET /ready HTTP/1.1\r\nHost: x\r\n"));  // a request under way
    RawConnection posting(server.port());
    const std::string batch = json{{"ref", "b1"}, {"sku", "LAMP"}, {"qty", 1}, {"eta", nullptr}}.dump();
    const std::string post = request_text("POST", "/add_batch", batch);
    REQUIRE(posting.send(post.substr(0, post.size() - 5)));
    std::this_thread::sleep_for(200ms);

    ::kill(server.process().pid(), SIGTERM);
    CHECK(idle.closed_by_server(5s));
    REQUIRE(asking.send("\r\n"));
    auto ready = asking.read();
    REQUIRE(ready);
    CHECK(ready->status == 503);
    CHECK(json::parse(ready->body)["status"] == "draining");
    CHECK_FALSE(ready->keep_alive);
    REQUIRE(posting.send(post.substr(post.size() - 5)));
    auto created = posting.read();
    REQUIRE(created);
    CHECK(created->status == 201);
    CHECK_FALSE(created->keep_alive);

    auto status = server.process().wait(10s);
    REQUIRE(status);
    CHECK(WIFEXITED(*status));
    CHECK(WEXITSTATUS(*status) == 0);
    CHECK_FALSE(answers_health(server.port()));
}

TEST_CASE("the drain ends at its deadline even when slow clients hold connections", "[e2e][http][operation]") {
    Server server({"--memory", "--drain-timeout", "1", "--request-timeout", "60"});
    std::vector<std::unique_ptr<RawConnection>> slow;
    for (int i = 0; i < 10; ++i) {
        slow.push_back(std::make_unique<RawConnection>(server.port()));
        REQUIRE(slow.back()->send("POST /allocate HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n{"));
    }
    std::this_thread::sleep_for(200ms);
    const auto began = std::chrono::steady_clock::now();
    auto status = server.process().stop(SIGTERM, 20s);
    const auto took = std::chrono::steady_clock::now() - began;
    REQUIRE(status);
    CHECK(WIFEXITED(*status));
    CHECK(WEXITSTATUS(*status) == 0);
    CHECK(took < 15s);  // the deadline, not the 60 s the requests were allowed
    CHECK_THAT(server.log(), Catch::Contains("drain deadline passed: closing 10 connections"));
}

TEST_CASE("a second signal during the drain exits at once", "[e2e][http][operation]") {
    const int second = GENERATE(SIGINT, SIGTERM);
    Server server({"--memory", "--drain-timeout", "60", "--request-timeout", "60"});
    RawConnection slow(server.port());
    REQUIRE(slow.send("POST /allocate HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n{"));
    std::this_thread::sleep_for(200ms);
    ::kill(server.process().pid(), SIGTERM);
    REQUIRE(wait_until([&] { return server.log().find("draining") != std::string::npos; }, 5s));
    CHECK(server.process().running());  // held by the slow client
    auto status = server.process().stop(second, 5s);
    REQUIRE(status);
    CHECK(WIFEXITED(*status));
    CHECK(WEXITSTATUS(*status) == 128 + second);
    CHECK_THAT(server.log(), Catch::Contains("received again: exiting now"));
}
