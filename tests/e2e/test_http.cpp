// The HTTP API end to end: the real allocation-server, driven over loopback as a client would.
#include <atomic>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "processes.hpp"
#include "storage.hpp"
#include "support/catch.hpp"

using nlohmann::json;
using namespace e2e;

namespace {

struct Answer {
    int status = 0;
    json body;
};

Answer post(HttpClient& client, const std::string& path, const std::string& body) {
    auto res = client.Post(path.c_str(), body, "application/json");
    REQUIRE(res);
    return {res->status, json::parse(res->body)};
}
Answer post(HttpClient& client, const std::string& path, const json& body) { return post(client, path, body.dump()); }

Answer get(HttpClient& client, const std::string& path) {
    auto res = client.Get(path.c_str());
    REQUIRE(res);
    return {res->status, json::parse(res->body)};
}

void add_batch(HttpClient& client, const std::string& ref, const std::string& sku, int qty, json eta) {
    auto answer = post(client, "/add_batch", json{{"ref", ref}, {"sku", sku}, {"qty", qty}, {"eta", eta}});
    REQUIRE(answer.status == 201);
}

}  // namespace

// The book's own end-to-end scenarios (tests/e2e/test_api.py), step for step.
TEST_CASE("book: test_happy_path_returns_202_and_batch_is_allocated", "[e2e][http][book]") {
    const std::string storage = E2E_STORAGE();
    TempDir dir;
    Server server(storage_args(storage, dir));
    auto client = server.client();
    const std::string sku = "sku-1", othersku = "sku-other", orderid = "order-1";

    add_batch(client, "batch-2", sku, 100, "2011-01-02");
    add_batch(client, "batch-1", sku, 100, "2011-01-01");
    add_batch(client, "batch-3", othersku, 100, nullptr);

    auto allocated = post(client, "/allocate", json{{"orderid", orderid}, {"sku", sku}, {"qty", 3}});
    CHECK(allocated.status == 202);

    auto view = get(client, "/allocations/" + orderid);
    CHECK(view.status == 200);
    CHECK(view.body == json::array({{{"sku", sku}, {"batchref", "batch-1"}}}));
}

TEST_CASE("book: test_unhappy_path_returns_400_and_error_message", "[e2e][http][book]") {
    const std::string storage = E2E_STORAGE();
    TempDir dir;
    Server server(storage_args(storage, dir));
    auto client = server.client();

    auto answer = post(client, "/allocate", json{{"orderid", "order-2"}, {"sku", "UNKNOWN-SKU"}, {"qty", 20}});
    CHECK(answer.status == 400);
    CHECK(answer.body == json{{"message", "Invalid sku UNKNOWN-SKU"}});

    auto view = get(client, "/allocations/order-2");
    CHECK(view.status == 404);
    CHECK(view.body["message"].is_string());
}

TEST_CASE("the product shows its batches with their quantities and its version", "[e2e][http]") {
    const std::string storage = E2E_STORAGE();
    TempDir dir;
    Server server(storage_args(storage, dir));
    auto client = server.client();

    add_batch(client, "later-batch", "RETRO-CLOCK", 100, "2026-11-23");
    add_batch(client, "earliest-batch", "RETRO-CLOCK", 100, "2026-11-21T09:30:00+01:00");
    REQUIRE(post(client, "/allocate", json{{"orderid", "order-1"}, {"sku", "RETRO-CLOCK"}, {"qty", 3}}).status == 202);

    auto product = get(client, "/products/RETRO-CLOCK");
    REQUIRE(product.status == 200);
    CHECK(product.body["sku"] == "RETRO-CLOCK");
    CHECK(product.body["version"].get<int>() >= 3);
    auto batches = product.body["batches"];
    REQUIRE(batches.size() == 2);
    for (const auto& batch : batches) {
        if (batch["ref"] == "earliest-batch") {
            CHECK(batch == json{{"ref", "earliest-batch"}, {"eta", "2026-11-21"}, {"purchased", 100},
                                {"allocated", 3}, {"available", 97}});
        } else {
            CHECK(batch == json{{"ref", "later-batch"}, {"eta", "2026-11-23"}, {"purchased", 100}, {"allocated", 0},
                                {"available", 100}});
        }
    }
}

TEST_CASE("ids with slashes and other URL characters can be looked up", "[e2e][http]") {
    const std::string storage = E2E_STORAGE();
    TempDir dir;
    Server server(storage_args(storage, dir));
    auto client = server.client();
    add_batch(client, "batch/1", "SOFA/RED ?#%", 10, nullptr);
    auto allocated = post(client, "/allocate", json{{"orderid", "a/b"}, {"sku", "SOFA/RED ?#%"}, {"qty", 2}});
    REQUIRE(allocated.status == 202);
    CHECK(allocated.body["batchref"] == "batch/1");

    const json expected = json::array({{{"sku", "SOFA/RED ?#%"}, {"batchref", "batch/1"}}});
    for (const std::string path : {"/allocations/a%2Fb", "/allocations/a/b"}) {
        INFO(path);
        auto answer = get(client, path);
        CHECK(answer.status == 200);
        CHECK(answer.body == expected);
    }
    auto product = get(client, "/products/SOFA%2FRED%20%3F%23%25");
    CHECK(product.status == 200);
    CHECK(product.body["sku"] == "SOFA/RED ?#%");
    CHECK(product.body["batches"][0]["ref"] == "batch/1");
    CHECK(get(client, "/allocations/a%2Fc").status == 404);
}

TEST_CASE("out of stock is accepted, answered with a null batchref, and logged for the stock team", "[e2e][http]") {
    const std::string storage = E2E_STORAGE();
    TempDir dir;
    Server server(storage_args(storage, dir));
    auto client = server.client();
    add_batch(client, "small", "LAMP", 1, nullptr);

    auto answer = post(client, "/allocate", json{{"orderid", "o"}, {"sku", "LAMP"}, {"qty", 2}});
    CHECK(answer.status == 202);
    CHECK(answer.body == json{{"batchref", nullptr}});
    CHECK(get(client, "/allocations/o").status == 404);
    // The notification leaves through the outbox, a moment after the commit.
    CHECK(wait_until([&] { return server.log().find("Out of stock for LAMP") != std::string::npos; }));
}

TEST_CASE("changing a batch quantity reallocates what no longer fits", "[e2e][http]") {
    const std::string storage = E2E_STORAGE();
    TempDir dir;
    Server server(storage_args(storage, dir));
    auto client = server.client();
    add_batch(client, "in-stock", "SOFA", 10, nullptr);
    add_batch(client, "shipment", "SOFA", 10, "2026-12-01");
    REQUIRE(post(client, "/allocate", json{{"orderid", "o1"}, {"sku", "SOFA"}, {"qty", 5}}).body["batchref"] == "in-stock");
    REQUIRE(post(client, "/allocate", json{{"orderid", "o2"}, {"sku", "SOFA"}, {"qty", 5}}).body["batchref"] == "in-stock");

    auto changed = post(client, "/change_batch_quantity", json{{"batchref", "in-stock"}, {"qty", 6}});
    CHECK(changed.status == 200);

    CHECK(get(client, "/allocations/o1").body == json::array({{{"sku", "SOFA"}, {"batchref", "in-stock"}}}));
    CHECK(get(client, "/allocations/o2").body == json::array({{{"sku", "SOFA"}, {"batchref", "shipment"}}}));
    auto product = get(client, "/products/SOFA").body;
    for (const auto& batch : product["batches"]) {
        CHECK(batch["allocated"] == 5);
        CHECK(batch["available"] == (batch["ref"] == "in-stock" ? 1 : 5));
    }
}

TEST_CASE("changing a batch quantity to 0 cancels it: every line moves to another batch", "[e2e][http]") {
    const std::string storage = E2E_STORAGE();
    TempDir dir;
    Server server(storage_args(storage, dir));
    auto client = server.client();
    add_batch(client, "cancelled", "SOFA", 10, nullptr);
    add_batch(client, "shipment", "SOFA", 10, "2026-12-01");
    REQUIRE(post(client, "/allocate", json{{"orderid", "o1"}, {"sku", "SOFA"}, {"qty", 5}}).body["batchref"] == "cancelled");

    CHECK(post(client, "/change_batch_quantity", json{{"batchref", "cancelled"}, {"qty", 0}}).status == 200);

    CHECK(get(client, "/allocations/o1").body == json::array({{{"sku", "SOFA"}, {"batchref", "shipment"}}}));
    const json batches = get(client, "/products/SOFA").body["batches"];
    REQUIRE(batches.size() == 2);
    for (const auto& batch : batches) {
        if (batch["ref"] == "cancelled") CHECK(batch == json{{"ref", "cancelled"}, {"eta", nullptr}, {"purchased", 0},
                                                             {"allocated", 0}, {"available", 0}});
    }
}

TEST_CASE("a shrink leaves a line waiting for stock, and a new batch allocates it", "[e2e][http]") {
    const std::string storage = E2E_STORAGE();
    TempDir dir;
    Server server(storage_args(storage, dir));
    auto client = server.client();
    add_batch(client, "b1", "SOFA", 10, nullptr);
    REQUIRE(post(client, "/allocate", json{{"orderid", "o1"}, {"sku", "SOFA"}, {"qty", 4}}).body["batchref"] == "b1");
    REQUIRE(post(client, "/allocate", json{{"orderid", "o2"}, {"sku", "SOFA"}, {"qty", 6}}).body["batchref"] == "b1");

    CHECK(post(client, "/change_batch_quantity", json{{"batchref", "b1"}, {"qty", 5}}).status == 200);

    auto product = get(client, "/products/SOFA").body;
    CHECK(product["waiting"] == json::array({{{"orderid", "o2"}, {"qty", 6}}}));
    CHECK(product["batches"][0]["allocated"] == 4);
    CHECK(get(client, "/allocations/o2").status == 404);
    CHECK(get(client, "/allocations/o1").body == json::array({{{"sku", "SOFA"}, {"batchref", "b1"}}}));
    // Asking again for the waiting line changes nothing: still no batch, still waiting.
    auto again = post(client, "/allocate", json{{"orderid", "o2"}, {"sku", "SOFA"}, {"qty", 6}});
    CHECK(again.status == 202);
    CHECK(again.body["batchref"] == nullptr);
    CHECK(get(client, "/products/SOFA").body["version"] == product["version"]);

    add_batch(client, "b2", "SOFA", 6, "2026-12-01");

    CHECK(get(client, "/products/SOFA").body["waiting"] == json::array());
    CHECK(get(client, "/allocations/o2").body == json::array({{{"sku", "SOFA"}, {"batchref", "b2"}}}));
}

TEST_CASE("every bad request gets a 4xx with a message naming the problem, and the server keeps serving",
          "[e2e][http][bad-input]") {
    const std::string storage = E2E_STORAGE();
    TempDir dir;
    Server server(storage_args(storage, dir));
    auto client = server.client();
    add_batch(client, "b1", "CHAIR", 10, nullptr);

    struct Case {
        std::string path;
        std::string body;
        int status;
        std::string message;  // a part of the expected message
    };
    const std::vector<Case> cases = {
        // malformed JSON, not an object
        {"/allocate", R"({"orderid": "o", "sku": "CHAIR", "qty": 1)", 400, "Malformed JSON"},
        {"/allocate", "", 400, "Malformed JSON"},
        {"/allocate", "\xff\xfe", 400, "Malformed JSON"},
        {"/allocate", R"(["o", "CHAIR", 1])", 400, "JSON object"},
        {"/add_batch", "null", 400, "JSON object"},
        // missing fields
        {"/allocate", R"({"sku": "CHAIR", "qty": 1})", 400, "'orderid'"},
        {"/allocate", R"({"orderid": "o", "qty": 1})", 400, "'sku'"},
        {"/allocate", R"({"orderid": "o", "sku": "CHAIR"})", 400, "'qty'"},
        {"/add_batch", R"({"sku": "CHAIR", "qty": 1, "eta": null})", 400, "'ref'"},
        {"/change_batch_quantity", R"({"qty": 1})", 400, "'batchref'"},
        {"/change_batch_quantity", R"({"batchref": "b1"})", 400, "'qty'"},
        // wrong types
        {"/allocate", R"({"orderid": 7, "sku": "CHAIR", "qty": 1})", 400, "'orderid' must be a string"},
        {"/allocate", R"({"orderid": "o", "sku": ["CHAIR"], "qty": 1})", 400, "'sku' must be a string"},
        {"/allocate", R"({"orderid": "o", "sku": "CHAIR", "qty": "1"})", 400, "'qty' must be an integer"},
        {"/allocate", R"({"orderid": "o", "sku": "CHAIR", "qty": 1.5})", 400, "'qty' must be an integer"},
        {"/allocate", R"({"orderid": "o", "sku": "CHAIR", "qty": true})", 400, "'qty' must be an integer"},
        {"/allocate", R"({"orderid": "", "sku": "CHAIR", "qty": 1})", 400, "'orderid' must not be empty"},
        {"/allocate", R"({"orderid": ")" + std::string(300, 'x') + R"(", "sku": "CHAIR", "qty": 1})", 400,
         "'orderid' must be at most 255"},
        {"/add_batch", R"({"ref": "b9", "sku": "CHAIR", "qty": 1, "eta": 20261121})", 400, "'eta'"},
        // ids with control characters could never be looked up by URL
        {"/allocate", R"({"orderid": "a\u0000b", "sku": "CHAIR", "qty": 1})", 400,
         "'orderid' must not contain control characters"},
        {"/allocate", R"({"orderid": "o", "sku": "CHA\nIR", "qty": 1})", 400, "'sku' must not contain control characters"},
        {"/add_batch", R"({"ref": "b\t9", "sku": "CHAIR", "qty": 1})", 400, "'ref' must not contain control characters"},
        {"/change_batch_quantity", R"({"batchref": "b\u007f", "qty": 1})", 400,
         "'batchref' must not contain control characters"},
        // quantities out of range
        {"/allocate", R"({"orderid": "o", "sku": "CHAIR", "qty": 0})", 400, "'qty' must be between 1 and 1000000000"},
        {"/allocate", R"({"orderid": "o", "sku": "CHAIR", "qty": -3})", 400, "'qty' must be between 1 and"},
        {"/allocate", R"({"orderid": "o", "sku": "CHAIR", "qty": 1000000001})", 400, "'qty' must be between 1 and"},
        {"/allocate", R"({"orderid": "o", "sku": "CHAIR", "qty": 18446744073709551615})", 400, "'qty' must be between"},
        {"/allocate", R"({"orderid": "o", "sku": "CHAIR", "qty": 1e300})", 400, "'qty' must be between"},
        {"/add_batch", R"({"ref": "r", "sku": "s", "qty": 1e400, "eta": null})", 400, "'qty'"},
        {"/allocate", R"({"orderid": "o", "sku": "CHAIR", "qty": -1e400})", 400, "'qty'"},
        {"/add_batch", R"({"ref": "b9", "sku": "CHAIR", "qty": 0, "eta": null})", 400, "'qty' must be between"},
        {"/change_batch_quantity", R"({"batchref": "b1", "qty": -1})", 400, "'qty' must be between 0 and"},
        {"/change_batch_quantity", R"({"batchref": "b1", "qty": 2000000000})", 400, "'qty' must be between"},
        // bad dates
        {"/add_batch", R"({"ref": "b9", "sku": "CHAIR", "qty": 1, "eta": "2026-02-30"})", 400, "'eta' must be a real date"},
        {"/add_batch", R"({"ref": "b9", "sku": "CHAIR", "qty": 1, "eta": "21/11/2026"})", 400, "'eta'"},
        {"/add_batch", R"({"ref": "b9", "sku": "CHAIR", "qty": 1, "eta": "2026-11-21T25:00"})", 400, "'eta'"},
        {"/add_batch", R"({"ref": "b9", "sku": "CHAIR", "qty": 1, "eta": "2026-11-21T10:00:00+24:00"})", 400, "'eta'"},
        {"/add_batch", R"({"ref": "b9", "sku": "CHAIR", "qty": 1, "eta": ""})", 400, "'eta'"},
        // unknown batch, taken reference, unknown sku
        {"/change_batch_quantity", R"({"batchref": "no-such-batch", "qty": 1})", 400, "Unknown batch no-such-batch"},
        {"/add_batch", R"({"ref": "b1", "sku": "CHAIR", "qty": 1, "eta": null})", 409, "Batch b1 already exists"},
        {"/add_batch", R"({"ref": "b1", "sku": "TABLE", "qty": 1, "eta": null})", 409, "Batch b1 already exists"},
        {"/allocate", R"({"orderid": "o", "sku": "TABLE", "qty": 1})", 400, "Invalid sku TABLE"},
    };
    for (const auto& c : cases) {
        INFO(c.path << " " << c.body.substr(0, 120));
        auto res = client.Post(c.path.c_str(), c.body, "application/json");
        REQUIRE(res);
        CHECK(res->status == c.status);
        CHECK(res->get_header_value("Content-Type") == "application/json");
        auto body = json::parse(res->body);
        REQUIRE(body.contains("message"));
        CHECK_THAT(body["message"].get<std::string>(), Catch::Contains(c.message));
    }

    SECTION("a body over the limit is refused with 413") {
        std::string big = R"({"orderid": "o", "sku": "CHAIR", "qty": 1, "pad": ")" + std::string(70 * 1024, 'x') + "\"}";
        auto res = client.Post("/allocate", big, "application/json");
        REQUIRE(res);
        CHECK(res->status == 413);
        CHECK_THAT(json::parse(res->body)["message"].get<std::string>(), Catch::Contains("larger than 65536 bytes"));
    }
    SECTION("unknown routes and lookups answer 404 with a message") {
        auto route = get(client, "/no-such-route");
        CHECK(route.status == 404);
        CHECK(route.body["message"].is_string());
        auto product = get(client, "/products/NOPE");
        CHECK(product.status == 404);
        CHECK(product.body == json{{"message", "Invalid sku NOPE"}});
    }

    // Nothing of that changed anything, and the server is still there.
    REQUIRE(server.process().running());
    auto client2 = server.client();
    CHECK(get(client2, "/health").status == 200);
    auto product = get(client2, "/products/CHAIR").body;
    REQUIRE(product["batches"].size() == 1);
    CHECK(product["batches"][0]["purchased"] == 10);
    CHECK(product["batches"][0]["allocated"] == 0);
    CHECK(server.log().find(" 500 ") == std::string::npos);
}

TEST_CASE("concurrent clients on one SKU are never refused and never oversell", "[e2e][http][concurrency][threads]") {
    const std::string storage = E2E_STORAGE();
    TempDir dir;
    auto args = storage_args(storage, dir);
    args.insert(args.end(), {"--threads", "8"});
    Server server(args);
    auto setup = server.client();
    add_batch(setup, "warehouse", "DESK", 30, nullptr);
    add_batch(setup, "shipment", "DESK", 20, "2026-12-24");

    constexpr int clients = 16, orders_per_client = 10;  // 160 lines of 1 for 50 units
    std::atomic<int> allocated{0}, out_of_stock{0}, failures{0};
    std::vector<std::thread> threads;
    for (int c = 0; c < clients; ++c) {
        threads.emplace_back([&, c] {
            auto client = server.client();
            for (int i = 0; i < orders_per_client; ++i) {
                json body{{"orderid", "order-" + std::to_string(c) + "-" + std::to_string(i)}, {"sku", "DESK"}, {"qty", 1}};
                // Eight workers on one SKU: they take turns on it (group commit on SQLite, the product's row lock
                // on PostgreSQL, the store's lock in memory), so none is refused with a 409 "try again".
                auto res = client.Post("/allocate", body.dump(), "application/json");
                if (!res || res->status != 202) {
                    ++failures;
                    continue;
                }
                json answer = json::parse(res->body);
                (answer["batchref"].is_null() ? out_of_stock : allocated)++;
            }
        });
    }
    for (auto& t : threads) t.join();

    CHECK(failures == 0);
    CHECK(allocated == 50);
    CHECK(out_of_stock == clients * orders_per_client - 50);
    auto client = server.client();
    auto product = get(client, "/products/DESK").body;
    int total_allocated = 0;
    for (const auto& batch : product["batches"]) {
        CHECK(batch["available"].get<int>() >= 0);
        CHECK(batch["allocated"].get<int>() <= batch["purchased"].get<int>());
        total_allocated += batch["allocated"].get<int>();
    }
    CHECK(total_allocated == 50);
}

TEST_CASE("SIGINT and SIGTERM stop the server cleanly, after one log line per request", "[e2e][http][operation]") {
    const int signal = GENERATE(SIGINT, SIGTERM);
    TempDir dir;
    Server server({"--memory"});
    auto client = server.client();
    add_batch(client, "b", "VASE", 5, nullptr);
    post(client, "/allocate", json{{"orderid", "o", }, {"sku", "VASE"}, {"qty", 1}});
    get(client, "/allocations/o");

    auto status = server.process().stop(signal);
    REQUIRE(status);
    CHECK(WIFEXITED(*status));
    CHECK(WEXITSTATUS(*status) == 0);

    const std::string log = server.log();
    INFO(log);
    // time, client, method, path, status, duration, request id
    const std::regex line(R"(\n\S+Z 127\.0\.0\.1:\d+ (GET|POST) (\S+) (\d{3}) \d+\.\d{3}ms id=[0-9a-f]{16}(?=\n))");
    std::vector<std::string> requests;
    for (auto it = std::sregex_iterator(log.begin(), log.end(), line); it != std::sregex_iterator(); ++it) {
        requests.push_back((*it)[1].str() + " " + (*it)[2].str() + " " + (*it)[3].str());
    }
    CHECK(std::count(requests.begin(), requests.end(), "POST /add_batch 201") == 1);
    CHECK(std::count(requests.begin(), requests.end(), "POST /allocate 202") == 1);
    CHECK(std::count(requests.begin(), requests.end(), "GET /allocations/o 200") == 1);
    CHECK(log.find(signal == SIGINT ? "SIGINT received" : "SIGTERM received") != std::string::npos);
}

#if ALLOCATION_E2E_SQLITE || ALLOCATION_E2E_POSTGRES
TEST_CASE("the database keeps everything across restarts", "[e2e][http][sqlite][postgres]") {
    const std::string storage = E2E_DURABLE_STORAGE();
    TempDir dir;
    {
        Server server(storage_args(storage, dir));
        auto client = server.client();
        add_batch(client, "b1", "BED", 10, nullptr);
        REQUIRE(post(client, "/allocate", json{{"orderid", "o1"}, {"sku", "BED"}, {"qty", 4}}).status == 202);
    }
    Server server(storage_args(storage, dir));
    auto client = server.client();
    CHECK(get(client, "/allocations/o1").body == json::array({{{"sku", "BED"}, {"batchref", "b1"}}}));
    CHECK(get(client, "/products/BED").body["batches"][0]["available"] == 6);
}
#endif
