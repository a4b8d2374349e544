// No accepted line ever vanishes: the real server on a SQLite file, killed with SIGKILL at random moments while
// batches shrink, grow and arrive, or while groups of allocations commit, then started again on the same file.
#include <signal.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "processes.hpp"
#include "support/catch.hpp"

using nlohmann::json;
using namespace e2e;

namespace {

std::optional<int> post(HttpClient& client, const std::string& path, const json& body) {
    auto res = client.Post(path.c_str(), body.dump(), "application/json");
    if (!res) return std::nullopt;
    return res->status;
}

/// Where each order's line of LAMP is now: "batch", "waiting", or absent.
std::map<std::string, std::string> whereabouts(const Server& server) {
    auto client = server.client();
    auto product = client.Get("/products/LAMP");
    REQUIRE(product);
    REQUIRE(product->status == 200);
    std::map<std::string, std::string> where;
    const json body = json::parse(product->body);  // alive for the loop below
    for (const auto& line : body["waiting"]) where[line["orderid"].get<std::string>()] = "waiting";
    return where;
}

}  // namespace

TEST_CASE("SIGKILL at any moment while batches change: every accepted line stays in a batch or waits",
          "[e2e][crash]") {
    TempDir dir;
    const std::vector<std::string> args = {"--db", (dir / "allocation.db").string()};
    std::optional<Server> server(std::in_place, args);
    std::vector<std::string> accepted;
    {
        auto client = server->client();
        REQUIRE(post(client, "/add_batch", {{"ref", "b1"}, {"sku", "LAMP"}, {"qty", 30}, {"eta", nullptr}}) == 201);
        REQUIRE(post(client, "/add_batch", {{"ref", "b2"}, {"sku", "LAMP"}, {"qty", 30}, {"eta", "2030-01-01"}}) == 201);
        for (int i = 0; i < 50; ++i) {
            const std::string order = "o" + std::to_string(i);
            REQUIRE(post(client, "/allocate", {{"orderid", order}, {"sku", "LAMP"}, {"qty", 1}}) == 202);
            accepted.push_back(order);
        }
    }
    std::mt19937 random(20261201);
    int batches = 2;
    for (int round = 0; round < 20; ++round) {
        std::atomic<bool> stop{false};
        std::thread changes([&, seed = random()] {
            std::mt19937 r(seed);
            auto client = server->client();
            while (!stop) {
                const std::string ref = "b" + std::to_string(1 + static_cast<int>(r() % 2));
                post(client, "/change_batch_quantity", {{"batchref", ref}, {"qty", static_cast<int>(r() % 31)}});
            }
        });
        std::this_thread::sleep_for(std::chrono::milliseconds(20 + random() % 200));
        server->process().stop(SIGKILL);
        stop = true;
        changes.join();
        server.emplace(args);  // the same file, after the crash

        auto client = server->client();
        const auto waiting = whereabouts(*server);
        for (const auto& order : accepted) {
            auto allocation = client.Get(("/allocations/" + order).c_str());
            REQUIRE(allocation);
            const bool in_batch = allocation->status == 200;
            const bool waits = waiting.count(order) == 1;
            INFO("round " << round << ", order " << order);
            CHECK(in_batch != waits);  // in exactly one place
        }
        // Stock arrives now and then: waiting lines take it, oldest first.
        if (round % 3 == 2) {
            const std::string ref = "b" + std::to_string(++batches);
            REQUIRE(post(client, "/add_batch", {{"ref", ref}, {"sku", "LAMP"}, {"qty", 10}, {"eta", nullptr}}) == 201);
        }
    }
}

TEST_CASE("SIGKILL while groups of allocations commit: every acknowledged one is kept, none is half applied",
          "[e2e][crash][threads]") {
    TempDir dir;
    // The default on SQLite: 16 workers, whose commands commit in groups.
    const std::vector<std::string> args = {"--db", (dir / "allocation.db").string()};
    std::optional<Server> server(std::in_place, args);
    {
        auto client = server->client();
        const json batch{{"ref", "b1"}, {"sku", "LAMP"}, {"qty", 1000000}, {"eta", nullptr}};
        REQUIRE(post(client, "/add_batch", batch) == 201);
    }
    std::mt19937 random(20261207);
    std::vector<std::string> sent, acknowledged;
    std::mutex mutex;
    for (int round = 0; round < 5; ++round) {
        std::atomic<bool> stop{false};
        std::vector<std::thread> clients;
        for (int c = 0; c < 12; ++c) {
            clients.emplace_back([&, round, c] {
                auto client = server->client();
                for (int i = 0; !stop; ++i) {
                    const std::string order = fmt::format("r{}-c{}-{}", round, c, i);
                    {
                        std::lock_guard lock(mutex);
                        sent.push_back(order);
                    }
                    if (post(client, "/allocate", {{"orderid", order}, {"sku", "LAMP"}, {"qty", 1}}) != 202) break;
                    std::lock_guard lock(mutex);
                    acknowledged.push_back(order);
                }
            });
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100 + random() % 300));
        server->process().stop(SIGKILL);
        stop = true;
        for (auto& client : clients) client.join();
        server.emplace(args);  // the same file, after the crash
    }
    REQUIRE(acknowledged.size() > 100);
    auto client = server->client();
    std::set<std::string> kept;
    for (const auto& order : sent) {
        auto allocation = client.Get(("/allocations/" + order).c_str());
        REQUIRE(allocation);
        if (allocation->status == 200) kept.insert(order);
    }
    for (const auto& order : acknowledged) {
        INFO("order " << order);
        CHECK(kept.count(order) == 1);  // nothing acknowledged is lost
    }
    // Each line kept is whole: in the read model and in its batch's allocated quantity, and nothing else is.
    auto product = client.Get("/products/LAMP");
    REQUIRE(product);
    CHECK(json::parse(product->body)["batches"][0]["allocated"].get<std::size_t>() == kept.size());
}
