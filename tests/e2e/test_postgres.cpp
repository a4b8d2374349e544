// The service on PostgreSQL end to end: several allocation-server processes on one database with concurrent
// clients spread across them, none of whom is ever told to try again (409), one of them killed under load, the
// database going away and coming back, and a start without a database. Each test starts its own PostgreSQL cluster
// and redis-server on loopback ports.
#include <signal.h>
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "processes.hpp"
#include "redis_server.hpp"
#include "support/catch.hpp"
#include "support/postgres_cluster.hpp"

using nlohmann::json;
using namespace e2e;
using allocation::testing::PostgresCluster;

namespace {

/// Several allocation-servers on one database, each with its relay to one Redis.
class Fleet {
public:
    Fleet(int size, const std::string& uri, int redis_port, int threads = 4) {
        for (int i = 0; i < size; ++i) {
            servers_.push_back(std::make_unique<Server>(
                std::vector<std::string>{"--postgres", uri, "--threads", std::to_string(threads), "--redis",
                                         "127.0.0.1:" + std::to_string(redis_port)}));
        }
    }
    std::size_t size() const noexcept { return servers_.size(); }
    Server& operator[](std::size_t i) { return *servers_[i]; }

private:
    std::vector<std::unique_ptr<Server>> servers_;
};

void add_batch(Server& server, const std::string& ref, const std::string& sku, int qty, json eta = nullptr) {
    auto res = server.client().Post("/add_batch", json{{"ref", ref}, {"sku", sku}, {"qty", qty}, {"eta", eta}}.dump(),
                                    "application/json");
    REQUIRE(res);
    REQUIRE(res->status == 201);
}

json get(Server& server, const std::string& path) {
    auto res = server.client().Get(path);
    REQUIRE(res);
    return json::parse(res->body);
}

/// What the clients were told: for each order acknowledged with a 202, its batch (null: out of stock); the orders
/// refused with a 409 "try again", and those that got anything else.
struct Acknowledged {
    std::mutex mutex;
    std::map<std::string, json> batch_of;
    std::atomic<int> count{0};
    std::atomic<int> refused{0};
    std::atomic<int> failures{0};
    std::vector<std::string> failed;
};

/// Sends one Allocate of 1 `sku` for `orderid` until a server answers it: a server that cannot be reached is left
/// for the next one (the order is the same line, so asking again is safe). A 409 is not asked again: commands on
/// one product queue on its row lock, so none should ever be refused.
void allocate_until_acknowledged(Fleet& fleet, std::size_t home, const std::string& orderid, const std::string& sku,
                                 Acknowledged& acknowledged) {
    const std::string body = json{{"orderid", orderid}, {"sku", sku}, {"qty", 1}}.dump();
    std::size_t server = home;
    for (int attempt = 0; attempt < 100; ++attempt) {
        auto res = fleet[server % fleet.size()].client().Post("/allocate", body, "application/json");
        if (!res) {
            ++server;  // gone: ask another one
            continue;
        }
        if (res->status == 202) {
            std::lock_guard lock(acknowledged.mutex);
            acknowledged.batch_of[orderid] = json::parse(res->body)["batchref"];
            ++acknowledged.count;
            return;
        }
        if (res->status == 409) ++acknowledged.refused;
        break;
    }
    std::lock_guard lock(acknowledged.mutex);
    acknowledged.failed.push_back(orderid);
    ++acknowledged.failures;
}

/// `clients` threads allocating `orders` lines of 1 `sku` between them, client c starting on server c % size.
void allocate_concurrently(Fleet& fleet, int clients, int orders, const std::string& sku, Acknowledged& acknowledged) {
    std::vector<std::thread> threads;
    for (int c = 0; c < clients; ++c) {
        threads.emplace_back([&, c] {
            for (int order = c; order < orders; order += clients) {
                allocate_until_acknowledged(fleet, static_cast<std::size_t>(c), "order-" + std::to_string(order), sku,
                                            acknowledged);
            }
        });
    }
    for (auto& thread : threads) thread.join();
}

/// The orders acknowledged with a batch, and checks that each is listed, once, with that batch, by `server`.
std::set<std::string> check_listed_once(Server& server, const std::string& sku, Acknowledged& acknowledged) {
    std::set<std::string> allocated;
    for (const auto& [orderid, batch] : acknowledged.batch_of) {
        if (batch.is_null()) continue;
        allocated.insert(orderid);
        INFO(orderid);
        CHECK(get(server, "/allocations/" + orderid) == json::array({{{"sku", sku}, {"batchref", batch}}}));
    }
    return allocated;
}

/// The units allocated of `sku` as its product says, checking that no batch gives more than it has.
int allocated_units(Server& server, const std::string& sku) {
    const json product = get(server, "/products/" + sku);
    int total = 0;
    for (const auto& batch : product["batches"]) {
        CHECK(batch["available"].get<int>() >= 0);
        CHECK(batch["allocated"].get<int>() <= batch["purchased"].get<int>());
        total += batch["allocated"].get<int>();
    }
    return total;
}

}  // namespace

TEST_CASE("servers on one database never oversell one SKU, list each allocation once and stream each event once",
          "[e2e][postgres][concurrency]") {
    const int servers = GENERATE(2, 3);
    PostgresCluster database;
    RedisServer redis;
    Fleet fleet(servers, database.uri(), redis.port());
    add_batch(fleet[0], "warehouse", "DESK", 40);
    add_batch(fleet[1], "shipment", "DESK", 20, "2026-12-24");

    constexpr int clients = 6, orders = 120;  // 120 lines of 1 for 60 units, from 6 clients across the servers
    Acknowledged acknowledged;
    allocate_concurrently(fleet, clients, orders, "DESK", acknowledged);

    INFO("failed orders: " << json(acknowledged.failed).dump());
    CHECK(acknowledged.refused == 0);
    REQUIRE(acknowledged.failures == 0);
    REQUIRE(acknowledged.count == orders);
    const std::set<std::string> allocated = check_listed_once(fleet[servers - 1], "DESK", acknowledged);
    CHECK(allocated.size() == 60);
    CHECK(allocated_units(fleet[0], "DESK") == 60);

    // Each server's relay claims rows with SKIP LOCKED: every Allocated row goes out once, by one of them.
    CHECK(wait_until([&] { return streamed_orders(redis.port()).size() >= allocated.size(); }));
    const std::multiset<std::string> streamed = streamed_orders(redis.port());
    CHECK(std::set<std::string>(streamed.begin(), streamed.end()) == allocated);
    CHECK(streamed.size() == allocated.size());
    // A relay marks its rows delivered after handing over the whole claimed batch (the XADDs above, the
    // out-of-stock notifications): the backlog empties soon after, not at the same moment.
    for (std::size_t i = 0; i < fleet.size(); ++i) {
        INFO("server " << i);
        CHECK(wait_until([&] { return get(fleet[i], "/ready")["outbox"]["undelivered"] == 0; }));
    }
}

// Each request is one message on one server's bus, whose unit of work locks the product's row: sixteen clients on
// one product through two servers queue on that lock, and none is told to try again.
TEST_CASE("16 clients on one product through two servers are never refused with 409, and never oversell",
          "[e2e][postgres][concurrency]") {
    const int stock = GENERATE(1000, 150);
    INFO("stock " << stock);
    PostgresCluster database;
    RedisServer redis;
    Fleet fleet(2, database.uri(), redis.port(), 8);
    add_batch(fleet[0], "warehouse", "CHAIR", stock);

    constexpr int clients = 16, orders = 400;
    Acknowledged acknowledged;
    allocate_concurrently(fleet, clients, orders, "CHAIR", acknowledged);

    INFO("failed orders: " << json(acknowledged.failed).dump());
    CHECK(acknowledged.refused == 0);
    REQUIRE(acknowledged.failures == 0);
    REQUIRE(acknowledged.count == orders);
    const int expected = std::min(stock, orders);
    const std::set<std::string> allocated = check_listed_once(fleet[1], "CHAIR", acknowledged);
    CHECK(allocated.size() == static_cast<std::size_t>(expected));  // the rest were answered "out of stock"
    CHECK(allocated_units(fleet[0], "CHAIR") == expected);
    CHECK(std::stoi(database.sql("SELECT count(*) FROM order_lines")) == expected);
}

TEST_CASE("kill -9 of one server under load loses nothing that was acknowledged", "[e2e][postgres][crash]") {
    PostgresCluster database;
    RedisServer redis;
    Fleet fleet(2, database.uri(), redis.port());
    add_batch(fleet[0], "warehouse", "LAMP", 1000);

    constexpr int clients = 4, orders = 200;
    Acknowledged acknowledged;
    int acknowledged_at_kill = 0;
    std::thread killer([&] {
        wait_until([&] { return acknowledged.count >= orders / 4; });
        fleet[0].process().stop(SIGKILL);
        acknowledged_at_kill = acknowledged.count;
    });
    allocate_concurrently(fleet, clients, orders, "LAMP", acknowledged);
    killer.join();
    REQUIRE_FALSE(fleet[0].process().running());
    CHECK(acknowledged_at_kill < orders * 3 / 4);  // killed under load, not after it

    INFO("failed orders: " << json(acknowledged.failed).dump());
    CHECK(acknowledged.refused == 0);
    REQUIRE(acknowledged.failures == 0);
    REQUIRE(acknowledged.count == orders);
    const std::set<std::string> allocated = check_listed_once(fleet[1], "LAMP", acknowledged);
    CHECK(allocated.size() == orders);
    // A request cut off by the kill may have been committed; asked again, it was answered with the same batch.
    CHECK(allocated_units(fleet[1], "LAMP") == orders);
}

TEST_CASE("while the database is down the service answers 503 with a message, then recovers by itself",
          "[e2e][postgres][outage]") {
    PostgresCluster database;
    Server server({"--postgres", database.uri()});
    // Without --threads a server on PostgreSQL runs 4 workers, each on a connection of its own.
    CHECK(wait_until([&] { return server.log().find("4 worker threads") != std::string::npos; }));
    add_batch(server, "b1", "RUG", 100);
    const std::string order = json{{"orderid", "o1"}, {"sku", "RUG"}, {"qty", 1}}.dump();
    auto client = server.client();
    auto first = client.Post("/allocate", order, "application/json");
    REQUIRE(first);
    REQUIRE(first->status == 202);

    database.stop();
    auto refused = client.Post("/allocate", json{{"orderid", "o2"}, {"sku", "RUG"}, {"qty", 1}}.dump(), "application/json");
    REQUIRE(refused);
    CHECK(refused->status == 503);
    CHECK(json::parse(refused->body)["message"] == "Storage unavailable");
    auto ready = client.Get("/ready");
    REQUIRE(ready);
    CHECK(ready->status == 503);
    const json readiness = json::parse(ready->body);
    CHECK_THAT(readiness["database"].get<std::string>(), Catch::Contains(database.uri()) && Catch::Contains("cannot connect"));
    CHECK_THAT(server.log(), Catch::Contains("storage error: PostgreSQL database " + database.uri()));

    database.start();
    CHECK(wait_until([&] {
        auto res = client.Get("/ready");
        return res && res->status == 200;
    }));
    // Every worker's connection was cut: each is replaced, none is reused broken.
    for (int i = 0; i < 20; ++i) {
        auto res = client.Post("/allocate", json{{"orderid", "after-" + std::to_string(i)}, {"sku", "RUG"}, {"qty", 1}}.dump(),
                               "application/json");
        REQUIRE(res);
        CHECK(res->status == 202);
    }
    CHECK(get(server, "/products/RUG")["batches"][0]["allocated"] == 21);
    CHECK(server.process().running());
}

TEST_CASE("a server whose database cannot be reached at start exits non-zero, naming it without its password",
          "[e2e][postgres][startup]") {
    PostgresCluster database;
    database.stop();
    const std::string uri = "postgresql://postgres:s3cret@127.0.0.1:" + std::to_string(database.port()) + "/allocation";
    const std::string shown = "postgresql://postgres:***@127.0.0.1:" + std::to_string(database.port()) + "/allocation";
    TempDir scratch;
    const std::vector<std::string> listen{"--host", "127.0.0.1", "--port", std::to_string(free_port())};
    RunResult result;
    SECTION("given by --postgres") {
        std::vector<std::string> args{"--postgres", uri};
        args.insert(args.end(), listen.begin(), listen.end());
        result = run(ALLOCATION_SERVER_PATH, args, scratch.path());
    }
    SECTION("given by ALLOCATION_POSTGRES") {
        ::setenv("ALLOCATION_POSTGRES", uri.c_str(), 1);
        result = run(ALLOCATION_SERVER_PATH, listen, scratch.path());
        ::unsetenv("ALLOCATION_POSTGRES");
    }
    const std::string output = result.out + result.err;
    INFO(output);
    CHECK(result.exit_code == 1);
    CHECK_THAT(output, Catch::Contains("PostgreSQL database " + shown) && Catch::Contains("cannot connect") &&
                           Catch::Contains("Connection refused"));
    CHECK(output.find("s3cret") == std::string::npos);
    CHECK(output.find("listening on") == std::string::npos);
}
