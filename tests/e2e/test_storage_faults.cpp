// The real server on a SQLite file whose storage fails under it: the file deleted while serving, a disk that
// refuses writes. No write is acknowledged that is not kept, /ready says so, and the server keeps serving.
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "processes.hpp"
#include "support/catch.hpp"

using nlohmann::json;
using namespace e2e;

namespace {

int post(const Server& server, const std::string& path, const json& body) {
    auto client = server.client();
    auto res = client.Post(path.c_str(), body.dump(), "application/json");
    REQUIRE(res);
    return res->status;
}

int allocate(const Server& server, const std::string& orderid) {
    return post(server, "/allocate", {{"orderid", orderid}, {"sku", "LAMP"}, {"qty", 1}});
}

/// GET /ready: its status and body.
std::pair<int, json> readiness(const Server& server) {
    auto client = server.client();
    auto res = client.Get("/ready");
    REQUIRE(res);
    return {res->status, json::parse(res->body)};
}

/// Limits the size of the files the server process writes (RLIMIT_FSIZE, as a full disk would refuse them).
void limit_file_size(Server& server, rlim_t bytes) {
    rlimit current{};
    REQUIRE(::prlimit(server.process().pid(), RLIMIT_FSIZE, nullptr, &current) == 0);
    const rlimit limited{bytes, current.rlim_max};
    REQUIRE(::prlimit(server.process().pid(), RLIMIT_FSIZE, &limited, nullptr) == 0);
}

}  // namespace

TEST_CASE("the database file deleted while serving: writes are refused with 503 and /ready says why",
          "[e2e][http][storage]") {
    TempDir dir;
    const std::string path = (dir / "deleted.db").string();
    Server server({"--db", path});
    REQUIRE(post(server, "/add_batch", {{"ref", "b1"}, {"sku", "LAMP"}, {"qty", 100}, {"eta", nullptr}}) == 201);
    REQUIRE(allocate(server, "o1") == 202);

    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);

    CHECK(allocate(server, "o2") == 503);
    CHECK(allocate(server, "o3") == 503);
    const auto [status, body] = readiness(server);
    CHECK(status == 503);
    CHECK_THAT(body.at("database").get<std::string>(), Catch::Contains("deleted or replaced"));
    CHECK_THAT(server.log(), Catch::Contains("deleted or replaced"));
    CHECK(server.process().running());
}

TEST_CASE("a disk that refuses writes: 503 and /ready 503 meanwhile, both well again once a write succeeds",
          "[e2e][http][storage]") {
    TempDir dir;
    const std::string path = (dir / "full.db").string();
    Server server({"--db", path});
    REQUIRE(post(server, "/add_batch", {{"ref", "b1"}, {"sku", "LAMP"}, {"qty", 100}, {"eta", nullptr}}) == 201);
    REQUIRE(readiness(server).first == 200);

    // The log grows with each commit (no checkpoint yet): the next one needs a byte past the limit.
    limit_file_size(server, static_cast<rlim_t>(std::filesystem::file_size(path + "-wal")));
    CHECK(allocate(server, "o1") == 503);
    const auto [status, body] = readiness(server);
    CHECK(status == 503);
    CHECK_THAT(body.at("database").get<std::string>(), Catch::Contains("writes are failing"));
    CHECK(server.process().running());

    limit_file_size(server, RLIM_INFINITY);
    CHECK(readiness(server).first == 200);
    CHECK(allocate(server, "o1") == 202);
}

TEST_CASE("SQLite's memory-mapped index truncated under load: the server ends of SIGBUS saying why, and after a "
          "restart every acknowledged allocation is there", "[e2e][http][storage]") {
    TempDir dir;
    const std::string path = (dir / "mapped.db").string();
    std::vector<std::string> acknowledged;
    {
        Server server({"--db", path, "--synchronous", "normal"});
        REQUIRE(post(server, "/add_batch", {{"ref", "b1"}, {"sku", "LAMP"}, {"qty", 100000}, {"eta", nullptr}}) == 201);
        auto client = server.client();
        for (int i = 0; i < 400; ++i) {
            // A write to a page past the end of a mapped file is a SIGBUS, as one the file system refuses is.
            if (i == 100) std::filesystem::resize_file(path + "-shm", 0);
            const std::string orderid = "o" + std::to_string(i);
            auto res = client.Post("/allocate", json{{"orderid", orderid}, {"sku", "LAMP"}, {"qty", 1}}.dump(),
                                   "application/json");
            if (!res) break;
            if (res->status == 202) acknowledged.push_back(orderid);
        }
        const std::optional<int> status = server.process().wait(10s);
        REQUIRE(status);
        CHECK(WIFSIGNALED(*status));
        CHECK(WTERMSIG(*status) == SIGBUS);
        CHECK_THAT(server.log(), Catch::Contains("allocation-server: SIGBUS: the storage refused a write"));
    }
    REQUIRE(acknowledged.size() >= 100);
    Server restarted({"--db", path});
    auto client = restarted.client();
    for (const std::string& orderid : acknowledged) {
        auto res = client.Get(("/allocations/" + orderid).c_str());
        REQUIRE(res);
        CHECK(res->status == 200);
    }
}
