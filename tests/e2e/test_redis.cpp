// Redis events end to end: a real redis-server, the real allocation-server started with --redis, and a test
// client that publishes commands and listens to events the way another service would.
#include <hiredis/hiredis.h>

#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "allocation/adapters/redis/redis.hpp"
#include "allocation/outbox.hpp"
#include "allocation/serialisation/log_text.hpp"
#if ALLOCATION_E2E_SQLITE
#include <sqlite3.h>
#endif

#include "processes.hpp"
#include "redis_server.hpp"
#include "storage.hpp"
#include "support/catch.hpp"

using nlohmann::json;
using namespace e2e;
using namespace std::string_literals;

namespace {

void publish(int port, const std::string& channel, const std::string& message) {
    Context c = connect(port);
    REQUIRE(c);
    Reply r(static_cast<redisReply*>(
        redisCommand(c.get(), "PUBLISH %b %b", channel.data(), channel.size(), message.data(), message.size())));
    REQUIRE(r);
    CHECK(r->type == REDIS_REPLY_INTEGER);
}

/// Listens on a channel; next() waits (at most 10 s) for the next message.
class Listener {
public:
    Listener(int port, const std::string& channel) : context_(connect(port)) {
        REQUIRE(context_);
        Reply r(static_cast<redisReply*>(redisCommand(context_.get(), "SUBSCRIBE %b", channel.data(), channel.size())));
        REQUIRE(r);
    }
    json next() {
        void* raw = nullptr;
        REQUIRE(redisGetReply(context_.get(), &raw) == REDIS_OK);
        Reply r(static_cast<redisReply*>(raw));
        REQUIRE(r->type == REDIS_REPLY_ARRAY);
        REQUIRE(r->elements == 3);
        return json::parse(std::string(r->element[2]->str, r->element[2]->len));
    }

private:
    Context context_;
};

json get(const Server& server, const std::string& path) {
    auto client = server.client();
    auto res = client.Get(path.c_str());
    REQUIRE(res);
    return json::parse(res->body);
}

void post(const Server& server, const std::string& path, const json& body, int status) {
    auto client = server.client();
    auto res = client.Post(path.c_str(), body.dump(), "application/json");
    REQUIRE(res);
    REQUIRE(res->status == status);
}

bool subscribed(const Server& server) { return get(server, "/ready").value("redis", "") == "subscribed"; }

/// A Redis server, and the service on this run's storage using it, subscribed to its channel.
struct RedisService {
    RedisServer redis;
    TempDir dir;
    Server server{with_redis(storage_args(E2E_STORAGE(), dir), redis)};

    RedisService() { REQUIRE(wait_until([&] { return subscribed(server); })); }

    static std::vector<std::string> with_redis(std::vector<std::string> args, const RedisServer& redis) {
        args.insert(args.end(), {"--redis", "127.0.0.1:" + std::to_string(redis.port())});
        return args;
    }
};

}  // namespace

TEST_CASE("change_batch_quantity on Redis leads to a reallocation published on line_allocated", "[e2e][redis]") {
    RedisService service;
    RedisServer& redis = service.redis;
    Server& server = service.server;
    Listener events(redis.port(), "line_allocated");

    post(server, "/add_batch", {{"ref", "batch1"}, {"sku", "ORNATE-LAMP"}, {"qty", 10}, {"eta", nullptr}}, 201);
    post(server, "/add_batch", {{"ref", "batch2"}, {"sku", "ORNATE-LAMP"}, {"qty", 10}, {"eta", "2026-12-01"}}, 201);
    post(server, "/allocate", {{"orderid", "order1"}, {"sku", "ORNATE-LAMP"}, {"qty", 10}}, 202);
    CHECK(events.next() == json{{"orderid", "order1"}, {"sku", "ORNATE-LAMP"}, {"qty", 10}, {"batchref", "batch1"}});

    // Messages the consumer cannot use are logged and skipped; it keeps consuming.
    publish(redis.port(), "change_batch_quantity", "this is not json");
    publish(redis.port(), "change_batch_quantity", R"({"batchref": "batch1"})");
    publish(redis.port(), "change_batch_quantity", R"({"batchref": "batch1", "qty": "five"})");
    publish(redis.port(), "change_batch_quantity", R"({"batchref": "batch1", "qty": -1})");
    publish(redis.port(), "change_batch_quantity", R"({"batchref": "no-such-batch", "qty": 5})");

    publish(redis.port(), "change_batch_quantity", R"({"batchref": "batch1", "qty": 5})");
    CHECK(events.next() == json{{"orderid", "order1"}, {"sku", "ORNATE-LAMP"}, {"qty", 10}, {"batchref", "batch2"}});
    // The read model is updated by its own handler, right after the event is published.
    CHECK(wait_until([&] {
        return get(server, "/allocations/order1") == json::array({{{"sku", "ORNATE-LAMP"}, {"batchref", "batch2"}}});
    }));

    const std::string log = server.log();
    CHECK_THAT(log, Catch::Contains("message is not valid JSON"));
    CHECK_THAT(log, Catch::Contains("(Missing field 'qty')"));
    CHECK_THAT(log, Catch::Contains("(Field 'qty' must be an integer, got string)"));
    CHECK_THAT(log, Catch::Contains("(Field 'qty' must be between 0 and 1000000000, got -1)"));
    CHECK_THAT(log, Catch::Contains("Unknown batch no-such-batch"));
    CHECK(server.process().running());
}

TEST_CASE("the service survives losing Redis and subscribes again when it is back", "[e2e][redis]") {
    RedisServer redis;
    Server server({"--memory", "--redis", "127.0.0.1:" + std::to_string(redis.port())});
    REQUIRE(wait_until([&] { return subscribed(server); }));
    post(server, "/add_batch", {{"ref", "b1"}, {"sku", "RUG"}, {"qty", 10}, {"eta", nullptr}}, 201);

    redis.stop();
    REQUIRE(wait_until([&] { return !subscribed(server); }));
    // Publishing fails while Redis is away; the allocation is committed all the same, and nothing is a 5xx.
    post(server, "/allocate", {{"orderid", "o1"}, {"sku", "RUG"}, {"qty", 1}}, 202);
    CHECK(get(server, "/allocations/o1") == json::array({{{"sku", "RUG"}, {"batchref", "b1"}}}));

    redis.start();
    REQUIRE(wait_until([&] { return subscribed(server); }));
    publish(redis.port(), "change_batch_quantity", R"({"batchref": "b1", "qty": 20})");
    CHECK(wait_until([&] { return get(server, "/products/RUG")["batches"][0]["purchased"] == 20; }));

    const std::string log = server.log();
    CHECK_THAT(log, Catch::Contains("redis: lost the connection"));
    CHECK_THAT(log, Catch::Contains("retrying"));
    CHECK(server.process().running());
    auto status = server.process().stop(SIGTERM);
    REQUIRE(status);
    CHECK(WEXITSTATUS(*status) == 0);
}

namespace {

/// A "broker" that lets clients connect (the kernel's backlog accepts them) but never reads or answers: a Redis that
/// hangs, as one does when its host is overloaded or stopped.
class SilentBroker {
public:
    SilentBroker() : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof addr;
        if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd_, 128) != 0 ||
            ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
            throw std::runtime_error("cannot listen on loopback");
        }
        port_ = ntohs(addr.sin_port);
    }
    SilentBroker(const SilentBroker&) = delete;
    SilentBroker& operator=(const SilentBroker&) = delete;
    ~SilentBroker() { ::close(fd_); }
    int port() const noexcept { return port_; }

private:
    int fd_;
    int port_ = 0;
};

/// An outbox row of an Allocated event, as the relay hands it to the publisher.
const allocation::ports::OutboxMessage allocated =
    allocation::make_outbox_message("LAMP", 1, 0, allocation::events::Allocated{"o1", "LAMP", 1, "b1"}, {});

}  // namespace

TEST_CASE("publishers do not queue behind a broker that hangs: each waits at most one timeout", "[e2e][redis]") {
    using namespace std::chrono;
    SilentBroker broker;
    const auto timeout = 250ms;
    allocation::redis::Publisher publisher({"127.0.0.1", broker.port()}, {.timeout = timeout, .backoff = {.first = 10s}});

    constexpr int threads = 8;
    std::vector<milliseconds> took(threads);
    std::atomic<int> failed{0};
    std::vector<std::thread> workers;
    const auto started = steady_clock::now();
    for (int i = 0; i < threads; ++i) {
        workers.emplace_back([&, i] {
            const auto begin = steady_clock::now();
            try {
                publisher.publish("line_allocated", allocated);
            } catch (const allocation::StorageError&) {
                ++failed;
            }
            took[static_cast<std::size_t>(i)] = duration_cast<milliseconds>(steady_clock::now() - begin);
        });
    }
    for (auto& worker : workers) worker.join();
    const auto all = duration_cast<milliseconds>(steady_clock::now() - started);
    CHECK(failed == threads);
    CHECK(*std::max_element(took.begin(), took.end()) < 3 * timeout);
    CHECK(all < 3 * timeout);

    // Once it has failed, publishing fails at once until the wait is over.
    const auto begin = steady_clock::now();
    CHECK_THROWS_AS(publisher.publish("line_allocated", allocated), allocation::StorageError);
    CHECK(steady_clock::now() - begin < 50ms);
}

TEST_CASE("the publisher survives losing Redis and publishes again once it is back", "[e2e][redis]") {
    using namespace std::chrono;
    RedisServer redis;
    allocation::redis::Publisher publisher({"127.0.0.1", redis.port()}, {.timeout = 500ms, .backoff = {.first = 200ms, .cap = 1s}});
    {
        Listener events(redis.port(), "line_allocated");
        publisher.publish("line_allocated", allocated);
        CHECK(events.next()["orderid"] == "o1");
    }
    redis.stop();
    CHECK_THROWS_AS(publisher.publish("line_allocated", allocated), allocation::StorageError);
    redis.start();
    Listener events(redis.port(), "line_allocated");
    CHECK(wait_until([&] {
        try {
            publisher.publish("line_allocated", allocated);
            return true;
        } catch (const allocation::StorageError&) {
            return false;
        }
    }));
    CHECK(events.next()["orderid"] == "o1");
}

TEST_CASE("a stream Redis refuses to append to fails the publish with its name, and the connection serves on",
          "[e2e][redis]") {
    RedisServer redis;
    Context admin = connect(redis.port());
    REQUIRE(admin);
    Reply occupied(static_cast<redisReply*>(redisCommand(admin.get(), "SET allocation:blocked not-a-stream")));
    REQUIRE(occupied);
    allocation::redis::Publisher publisher({"127.0.0.1", redis.port()});

    try {
        publisher.publish("blocked", allocated);
        FAIL("the append to a key holding a string was not refused");
    } catch (const allocation::StorageError& error) {
        CHECK_THAT(error.what(), Catch::StartsWith("cannot append to Redis stream allocation:blocked: WRONGTYPE"));
    }
    Listener events(redis.port(), "line_allocated");
    publisher.publish("line_allocated", allocated);
    CHECK(events.next()["orderid"] == "o1");
    Reply length(static_cast<redisReply*>(redisCommand(admin.get(), "XLEN allocation:line_allocated")));
    REQUIRE(length);
    CHECK(length->integer == 1);
}

TEST_CASE("Redis away for seconds under load: afterwards every acknowledged allocation is in the stream",
          "[e2e][redis][outbox]") {
    const std::string storage = E2E_STORAGE();
    RedisServer redis(free_port(), true);
    TempDir dir;
    auto args = storage_args(storage, dir);
    args.insert(args.end(), {"--redis", "127.0.0.1:" + std::to_string(redis.port())});
    Server server(args);
    post(server, "/add_batch", {{"ref", "b1"}, {"sku", "LAMP"}, {"qty", 1000000}, {"eta", nullptr}}, 201);

    std::atomic<bool> done{false};
    std::vector<std::string> acknowledged;
    std::thread client([&] {
        auto http = server.client();
        for (int i = 0; !done; ++i) {
            const std::string order = "o" + std::to_string(i);
            auto res = http.Post("/allocate", json{{"orderid", order}, {"sku", "LAMP"}, {"qty", 1}}.dump(),
                                 "application/json");
            if (res && res->status == 202) acknowledged.push_back(order);
            std::this_thread::sleep_for(2ms);
        }
    });
    std::this_thread::sleep_for(1s);
    redis.stop();
    std::this_thread::sleep_for(3s);
    redis.start();
    std::this_thread::sleep_for(1s);
    done = true;
    client.join();
    REQUIRE(acknowledged.size() > 100);

    const std::multiset<std::string> wanted(acknowledged.begin(), acknowledged.end());
    const bool all_there = wait_until([&] {
        const auto streamed = streamed_orders(redis.port());
        return std::includes(streamed.begin(), streamed.end(), wanted.begin(), wanted.end());
    }, 60s);
    CHECK(all_there);
    const auto entries = stream_entries(redis.port(), "allocation:line_allocated");
    std::set<std::string> ids;
    for (const auto& [id, event] : entries) {
        CHECK(id.rfind("LAMP:", 0) == 0);  // the outbox row's id: the consumers' message id
        ids.insert(id);
    }
    CHECK(ids.size() == acknowledged.size());  // every event once, whatever was sent twice

    // Hundreds of rows failed, many of them more than once: the log says when it started and when it ended.
    const std::string log = server.log();
    std::size_t relay_lines = 0;
    for (std::size_t at = 0; (at = log.find("relay: delivering", at)) != std::string::npos; ++at) ++relay_lines;
    CHECK(relay_lines >= 2);
    CHECK(relay_lines <= 6);
    CHECK_THAT(log, Catch::Contains("relay: delivering again after "));
}

TEST_CASE("an allocation is on the stream and the channel before its POST is answered, and leaves no backlog",
          "[e2e][redis][outbox]") {
    RedisService service;
    RedisServer& redis = service.redis;
    Server& server = service.server;
    Listener events(redis.port(), "line_allocated");
    post(server, "/add_batch", {{"ref", "b1"}, {"sku", "LAMP"}, {"qty", 10}, {"eta", nullptr}}, 201);
    for (const char* order : {"o1", "o2", "o3"}) {
        post(server, "/allocate", {{"orderid", order}, {"sku", "LAMP"}, {"qty", 1}}, 202);
        // No waiting: the commit's rows went to the outbound handlers before the answer left.
        CHECK(streamed_orders(redis.port()).count(order) == 1);
        CHECK(events.next()["orderid"] == order);
    }
    CHECK(get(server, "/ready")["outbox"] == json{{"undelivered", 0}, {"oldest_age_seconds", 0.0}});
}

#if ALLOCATION_E2E_SQLITE
TEST_CASE("a server killed after the commit, before the publish, delivers the event after its restart",
          "[e2e][redis][outbox]") {
    const int redis_port = free_port();  // no Redis yet: the event stays in the outbox
    TempDir dir;
    const std::vector<std::string> args = {"--db", (dir / "allocation.db").string(), "--redis",
                                           "127.0.0.1:" + std::to_string(redis_port)};
    {
        Server server(args);
        post(server, "/add_batch", {{"ref", "b1"}, {"sku", "LAMP"}, {"qty", 10}, {"eta", nullptr}}, 201);
        post(server, "/allocate", {{"orderid", "o1"}, {"sku", "LAMP"}, {"qty", 2}}, 202);
        REQUIRE(wait_until([&] { return get(server, "/ready")["outbox"].value("undelivered", 0) == 1; }));
        server.process().stop(SIGKILL);
    }
    RedisServer redis(redis_port);
    Server restarted(args);
    REQUIRE(wait_until([&] { return streamed_orders(redis_port).count("o1") == 1; }, 30s));
    const auto entries = stream_entries(redis_port, "allocation:line_allocated");
    REQUIRE(entries.size() == 1);
    CHECK(entries[0].second == json{{"orderid", "o1"}, {"sku", "LAMP"}, {"qty", 2}, {"batchref", "b1"}});
    CHECK(wait_until([&] { return get(restarted, "/ready")["outbox"].value("undelivered", -1) == 0; }));
}
#endif

namespace {

const std::string commands_stream = "allocation:change_batch_quantity";

/// Runs one command on a connection of its own.
Reply redis_command(int port, const std::vector<std::string>& words) {
    Context c = connect(port);
    REQUIRE(c);
    std::vector<const char*> argv;
    std::vector<std::size_t> lengths;
    for (const auto& word : words) {
        argv.push_back(word.data());
        lengths.push_back(word.size());
    }
    Reply r(static_cast<redisReply*>(redisCommandArgv(c.get(), static_cast<int>(argv.size()), argv.data(), lengths.data())));
    REQUIRE(r);
    return r;
}

/// XADD of one command; returns the entry id.
std::string send_command(int port, const std::vector<std::pair<std::string, std::string>>& fields) {
    std::vector<std::string> words{"XADD", commands_stream, "*"};
    for (const auto& [name, value] : fields) words.insert(words.end(), {name, value});
    Reply r = redis_command(port, words);
    REQUIRE(r->type == REDIS_REPLY_STRING);
    return std::string(r->str, r->len);
}

/// The number of entries of the command stream delivered to the group and not acknowledged (-1: no group yet).
long long pending_commands(int port) {
    Reply r = redis_command(port, {"XPENDING", commands_stream, "allocation"});
    if (r->type != REDIS_REPLY_ARRAY || r->elements == 0) return -1;
    return r->element[0]->integer;
}

/// Every entry of a stream, as its fields by name.
std::vector<std::map<std::string, std::string>> entries_of(int port, const std::string& stream) {
    std::vector<std::map<std::string, std::string>> entries;
    Reply r = redis_command(port, {"XRANGE", stream, "-", "+"});
    for (std::size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; ++i) {
        const redisReply* fields = r->element[i]->element[1];
        auto& entry = entries.emplace_back();
        for (std::size_t f = 0; f + 1 < fields->elements; f += 2) {
            entry[std::string(fields->element[f]->str, fields->element[f]->len)] =
                std::string(fields->element[f + 1]->str, fields->element[f + 1]->len);
        }
    }
    return entries;
}

json batch_of(const Server& server, const std::string& sku, const std::string& ref) {
    const json product = get(server, "/products/" + sku);
    for (const auto& batch : product["batches"]) {
        if (batch["ref"] == ref) return batch;
    }
    return nullptr;
}

bool purchased_is(const Server& server, const std::string& sku, const std::string& ref, int qty) {
    const json batch = batch_of(server, sku, ref);
    return batch.is_object() && batch["purchased"] == qty;
}

struct StreamSetup {
    explicit StreamSetup(const std::string& storage, std::vector<std::string> extra = {}) {
        auto args = storage_args(storage, dir);
        args.insert(args.end(), {"--redis", "127.0.0.1:" + std::to_string(redis.port())});
        args.insert(args.end(), extra.begin(), extra.end());
        server.emplace(args);
        post(*server, "/add_batch", {{"ref", "b1"}, {"sku", "LAMP"}, {"qty", 10}, {"eta", nullptr}}, 201);
        post(*server, "/add_batch", {{"ref", "b2"}, {"sku", "LAMP"}, {"qty", 10}, {"eta", "2026-12-01"}}, 201);
        post(*server, "/allocate", {{"orderid", "o1"}, {"sku", "LAMP"}, {"qty", 2}}, 202);
    }
    RedisServer redis;
    TempDir dir;
    std::optional<Server> server;
};

}  // namespace

TEST_CASE("a change_batch_quantity appended to the stream is applied and acknowledged", "[e2e][redis][stream]") {
    StreamSetup setup(E2E_STORAGE());
    Server& server = *setup.server;
    send_command(setup.redis.port(), {{"batchref", "b1"}, {"qty", "5"}});
    CHECK(wait_until([&] { return purchased_is(server, "LAMP", "b1", 5); }));
    CHECK(wait_until([&] { return pending_commands(setup.redis.port()) == 0; }));
    CHECK(get(server, "/ready").value("redis_stream", "") == "reading");
    CHECK(entries_of(setup.redis.port(), "allocation:dead_letter").empty());
}

TEST_CASE("a stream message delivered twice (the same id) is applied once", "[e2e][redis][stream]") {
    StreamSetup setup(E2E_STORAGE());
    Server& server = *setup.server;
    const int port = setup.redis.port();
    send_command(port, {{"id", "m1"}, {"batchref", "b1"}, {"qty", "5"}});
    send_command(port, {{"id", "m2"}, {"batchref", "b1"}, {"qty", "7"}});
    REQUIRE(wait_until([&] { return purchased_is(server, "LAMP", "b1", 7); }));
    const json version = get(server, "/products/LAMP")["version"];

    send_command(port, {{"id", "m1"}, {"batchref", "b1"}, {"qty", "5"}});  // again, after m2
    send_command(port, {{"id", "m3"}, {"batchref", "b2"}, {"qty", "9"}});  // a mark: m1 was handled before it
    REQUIRE(wait_until([&] { return purchased_is(server, "LAMP", "b2", 9); }));
    CHECK(wait_until([&] { return pending_commands(port) == 0; }));
    CHECK(purchased_is(server, "LAMP", "b1", 7));
    CHECK(get(server, "/products/LAMP")["version"] == version.get<int>() + 1);  // m3's change only
    CHECK(get(server, "/allocations/o1") == json::array({{{"sku", "LAMP"}, {"batchref", "b1"}}}));
}

TEST_CASE("a poison message goes to allocation:dead_letter with its reason, and the consumer goes on",
          "[e2e][redis][stream]") {
    StreamSetup setup(E2E_STORAGE());
    Server& server = *setup.server;
    const int port = setup.redis.port();
    const std::string not_a_number = send_command(port, {{"batchref", "b1"}, {"qty", "five"}});
    const std::string unknown = send_command(port, {{"batchref", "no-such-batch"}, {"qty", "5"}});
    const std::string no_ref = send_command(port, {{"qty", "3"}});
    const std::string negative = send_command(port, {{"batchref", "b1"}, {"qty", "-1"}});
    send_command(port, {{"batchref", "b1"}, {"qty", "4"}});
    REQUIRE(wait_until([&] { return purchased_is(server, "LAMP", "b1", 4); }));
    CHECK(wait_until([&] { return pending_commands(port) == 0; }));

    const auto dead = entries_of(port, "allocation:dead_letter");
    REQUIRE(dead.size() == 4);
    for (const auto& entry : dead) CHECK(entry.at("stream") == commands_stream);
    CHECK(dead[0].at("entry") == not_a_number);
    CHECK(dead[0].at("reason") == "Field 'qty' must be an integer, got 'five'");
    CHECK(dead[0].at("qty") == "five");
    CHECK(dead[0].at("batchref") == "b1");
    CHECK(dead[1].at("entry") == unknown);
    CHECK(dead[1].at("reason") == "Unknown batch no-such-batch");
    CHECK(dead[2].at("entry") == no_ref);
    CHECK(dead[2].at("reason") == "Missing field 'batchref'");
    CHECK(dead[3].at("entry") == negative);
    CHECK(dead[3].at("reason") == "Field 'qty' must be between 0 and 1000000000, got -1");
    CHECK(server.process().running());
}

TEST_CASE("hostile bytes in Redis messages cannot forge a log line, move the cursor or flood the log",
          "[e2e][redis][stream]") {
    StreamSetup setup(E2E_STORAGE());
    Server& server = *setup.server;
    const int port = setup.redis.port();
    const std::string forged = "x\n2026-01-01T00:00:00.000Z forged line\x1b[31m\x00\xc2\x9b\xff end"s;
    publish(port, "change_batch_quantity", R"({"batchref": ")" + forged + R"(", "qty": 5})");  // raw, not JSON
    publish(port, "change_batch_quantity", json{{"batchref", forged}, {"qty", 5}}.dump(-1, ' ', false,
                                                                                      json::error_handler_t::replace));
    send_command(port, {{"batchref", std::string(5'000'000, 'r')}, {"qty", "5"}});
    send_command(port, {{"batchref", "b1"}, {"qty", forged}});
    send_command(port, {{"batchref", "b1"}, {"qty", "4"}});
    REQUIRE(wait_until([&] { return purchased_is(server, "LAMP", "b1", 4); }));
    CHECK(wait_until([&] { return pending_commands(port) == 0; }));

    const std::string log = server.log();
    CHECK(log.find('\x1b') == std::string::npos);
    CHECK(log.find('\0') == std::string::npos);
    CHECK(log.find("\xc2\x9b") == std::string::npos);
    CHECK(log.find("\n2026-01-01T00:00:00.000Z forged") == std::string::npos);
    CHECK_THAT(log, Catch::Contains("\\x0a2026-01-01T00:00:00.000Z forged line\\x1b[31m\\x00\\xc2\\x9b"));
    std::size_t longest = 0;
    for (std::size_t start = 0, end; (end = log.find('\n', start)) != std::string::npos; start = end + 1) {
        longest = std::max(longest, end - start);
    }
    CHECK(longest <= allocation::log_text_limit + 64);  // the timestamp, and the mark of a cut (a 5 MB field)
    CHECK(server.process().running());
}

#if ALLOCATION_E2E_SQLITE
TEST_CASE("entries left pending by a consumer that died are claimed and applied", "[e2e][redis][stream]") {
    RedisServer redis;
    const int port = redis.port();
    TempDir dir;
    const std::vector<std::string> args = {"--db", (dir / "allocation.db").string(), "--redis",
                                           "127.0.0.1:" + std::to_string(port), "--claim-idle", "0.5"};
    {
        Server server(args);
        post(server, "/add_batch", {{"ref", "b1"}, {"sku", "LAMP"}, {"qty", 10}, {"eta", nullptr}}, 201);
        REQUIRE(wait_until([&] { return pending_commands(port) == 0; }));  // the group exists
        REQUIRE(server.process().stop(SIGTERM));
    }
    send_command(port, {{"batchref", "b1"}, {"qty", "6"}});
    // Another consumer of the group takes it, and dies before it acknowledges it.
    Reply taken = redis_command(port, {"XREADGROUP", "GROUP", "allocation", "dead-consumer", "COUNT", "1", "STREAMS",
                                       commands_stream, ">"});
    REQUIRE(taken->type == REDIS_REPLY_ARRAY);
    REQUIRE(pending_commands(port) == 1);
    std::this_thread::sleep_for(std::chrono::milliseconds(600));  // idle for longer than --claim-idle

    Server restarted(args);
    CHECK(wait_until([&] { return purchased_is(restarted, "LAMP", "b1", 6); }));
    CHECK(wait_until([&] { return pending_commands(port) == 0; }));
    CHECK_THAT(restarted.log(), Catch::Contains("claimed 1 idle entries"));
}

TEST_CASE("a temporary failure leaves the entry pending, and it is applied once the database is back",
          "[e2e][redis][stream]") {
    RedisServer redis;
    const int port = redis.port();
    TempDir dir;
    const std::string db = (dir / "allocation.db").string();
    Server server({"--db", db, "--redis", "127.0.0.1:" + std::to_string(port)});
    post(server, "/add_batch", {{"ref", "b1"}, {"sku", "LAMP"}, {"qty", 10}, {"eta", nullptr}}, 201);
    REQUIRE(wait_until([&] { return pending_commands(port) == 0; }));  // the group exists

    // Another program holds the write lock for longer than the server waits for it (5 s).
    sqlite3* holder = nullptr;
    REQUIRE(sqlite3_open(db.c_str(), &holder) == SQLITE_OK);
    REQUIRE(sqlite3_exec(holder, "BEGIN EXCLUSIVE", nullptr, nullptr, nullptr) == SQLITE_OK);
    send_command(port, {{"id", "m1"}, {"batchref", "b1"}, {"qty", "6"}});
    const bool failed_once = wait_until([&] {
        return server.log().find("redis stream: entry") != std::string::npos;
    }, std::chrono::seconds(20));
    CHECK(pending_commands(port) == 1);
    sqlite3_exec(holder, "ROLLBACK", nullptr, nullptr, nullptr);
    sqlite3_close(holder);
    REQUIRE(failed_once);
    CHECK_THAT(server.log(), Catch::Contains("failed, will retry"));

    CHECK(wait_until([&] { return purchased_is(server, "LAMP", "b1", 6); }));
    CHECK(wait_until([&] { return pending_commands(port) == 0; }));
    CHECK(entries_of(port, "allocation:dead_letter").empty());
}
#endif

#if ALLOCATION_E2E_SQLITE
namespace {
/// A Redis, and a server on a database file with it and `extra` flags, whose product LAMP has the batch b1 of 10.
struct OnFile {
    explicit OnFile(const std::vector<std::string>& extra) : server(arguments(extra)) {
        post(server, "/add_batch", {{"ref", "b1"}, {"sku", "LAMP"}, {"qty", 10}, {"eta", nullptr}}, 201);
    }
    std::vector<std::string> arguments(const std::vector<std::string>& extra) const {
        std::vector<std::string> args{"--db", db, "--redis", "127.0.0.1:" + std::to_string(port)};
        args.insert(args.end(), extra.begin(), extra.end());
        return args;
    }
    RedisServer redis;
    int port = redis.port();
    TempDir dir;
    std::string db = (dir / "allocation.db").string();
    Server server;
};
}  // namespace

TEST_CASE("an entry that fails with a temporary error on every delivery goes to the dead letters after "
          "--max-deliveries, and the consumer goes on", "[e2e][redis][stream]") {
    OnFile setup({"--max-deliveries", "2"});
    REQUIRE(wait_until([&] { return pending_commands(setup.port) == 0; }));  // the group exists
    const int version = get(setup.server, "/products/LAMP")["version"].get<int>();

    // Another program holds the write lock for longer than both deliveries wait for it (5 s each).
    sqlite3* holder = nullptr;
    REQUIRE(sqlite3_open(setup.db.c_str(), &holder) == SQLITE_OK);
    REQUIRE(sqlite3_exec(holder, "BEGIN EXCLUSIVE", nullptr, nullptr, nullptr) == SQLITE_OK);
    const std::string stuck = send_command(setup.port, {{"id", "m1"}, {"batchref", "b1"}, {"qty", "6"}});
    const bool dead_lettered = wait_until([&] { return !entries_of(setup.port, "allocation:dead_letter").empty(); },
                                          std::chrono::seconds(40));
    const auto pending_then = pending_commands(setup.port);
    send_command(setup.port, {{"id", "m2"}, {"batchref", "b1"}, {"qty", "7"}});
    sqlite3_exec(holder, "ROLLBACK", nullptr, nullptr, nullptr);
    sqlite3_close(holder);
    REQUIRE(dead_lettered);
    CHECK(pending_then == 0);  // acknowledged

    const auto dead = entries_of(setup.port, "allocation:dead_letter");
    REQUIRE(dead.size() == 1);
    CHECK(dead[0].at("stream") == commands_stream);
    CHECK(dead[0].at("entry") == stuck);
    CHECK(dead[0].at("id") == "m1");
    CHECK_THAT(dead[0].at("reason"), Catch::StartsWith("failed on each of 2 deliveries, the last time: "));
    CHECK_THAT(dead[0].at("reason"), Catch::Contains("locked"));
    CHECK_THAT(setup.server.log(), Catch::Contains("failed, will retry (delivery 1 of 2)"));

    // The next entry is applied once the database is free again; the dead one never was.
    CHECK(wait_until([&] { return purchased_is(setup.server, "LAMP", "b1", 7); }));
    CHECK(wait_until([&] { return pending_commands(setup.port) == 0; }));
    CHECK(get(setup.server, "/products/LAMP")["version"] == version + 1);  // m2's change only
}

TEST_CASE("the stream consumer reconnects after a Redis outage and applies what was added meanwhile and after",
          "[e2e][redis][stream]") {
    RedisServer redis(free_port(), true);  // persistent: the stream and its group survive the restart
    const int port = redis.port();
    TempDir dir;
    Server server({"--db", (dir / "allocation.db").string(), "--redis", "127.0.0.1:" + std::to_string(port)});
    post(server, "/add_batch", {{"ref", "b1"}, {"sku", "LAMP"}, {"qty", 10}, {"eta", nullptr}}, 201);
    post(server, "/add_batch", {{"ref", "b2"}, {"sku", "LAMP"}, {"qty", 10}, {"eta", "2026-12-01"}}, 201);
    post(server, "/allocate", {{"orderid", "o1"}, {"sku", "LAMP"}, {"qty", 4}}, 202);
    auto stream_state = [&] { return get(server, "/ready").value("redis_stream", ""); };
    REQUIRE(wait_until([&] { return stream_state() == "reading" && pending_commands(port) == 0; }));

    redis.stop();
    REQUIRE(wait_until([&] { return stream_state() == "connecting"; }));
    redis.start();
    // Added while the consumer is still away (it waits out its backoff): b1 shrinks below o1, which moves to b2.
    send_command(port, {{"id", "during"}, {"batchref", "b1"}, {"qty", "3"}});
    CHECK(wait_until([&] { return stream_state() == "reading"; }, std::chrono::seconds(30)));
    send_command(port, {{"id", "after"}, {"batchref", "b2"}, {"qty", "8"}});

    CHECK(wait_until([&] { return purchased_is(server, "LAMP", "b1", 3) && purchased_is(server, "LAMP", "b2", 8); },
                     std::chrono::seconds(30)));
    CHECK(wait_until([&] { return pending_commands(port) == 0; }));
    CHECK(get(server, "/allocations/o1") == json::array({{{"sku", "LAMP"}, {"batchref", "b2"}}}));
    CHECK(batch_of(server, "LAMP", "b2")["available"] == 4);
    const std::string log = server.log();
    CHECK_THAT(log, Catch::Contains("redis stream: lost the connection"));
    const std::string reading = "redis stream: reading " + commands_stream;
    const auto first = log.find(reading);
    REQUIRE(first != std::string::npos);
    CHECK(log.find(reading, first + 1) != std::string::npos);  // once per connection
    CHECK(entries_of(port, "allocation:dead_letter").empty());
}
#endif

#if ALLOCATION_E2E_SQLITE
namespace {
long long stored_count(const std::string& db, const std::string& sql) {
    sqlite3* handle = nullptr;
    if (sqlite3_open_v2(db.c_str(), &handle, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
        sqlite3_close(handle);
        return -1;
    }
    sqlite3_stmt* statement = nullptr;
    long long result = -1;
    if (sqlite3_prepare_v2(handle, sql.c_str(), -1, &statement, nullptr) == SQLITE_OK &&
        sqlite3_step(statement) == SQLITE_ROW) {
        result = sqlite3_column_int64(statement, 0);
    }
    sqlite3_finalize(statement);
    sqlite3_close(handle);
    return result;
}
}  // namespace

TEST_CASE("the server with --retention purges delivered outbox rows and processed message ids, and a message that "
          "comes again after that is applied again", "[e2e][redis][outbox]") {
    OnFile setup({"--retention", "0.5"});
    for (const char* order : {"o1", "o2", "o3"}) {
        post(setup.server, "/allocate", {{"orderid", order}, {"sku", "LAMP"}, {"qty", 1}}, 202);
    }
    send_command(setup.port, {{"id", "m1"}, {"batchref", "b1"}, {"qty", "6"}});
    send_command(setup.port, {{"id", "m2"}, {"batchref", "b1"}, {"qty", "8"}});
    REQUIRE(wait_until([&] { return purchased_is(setup.server, "LAMP", "b1", 8); }));

    // Once delivered and older than the retention: only LAMP's newest outbox row stays, and no message id.
    CHECK(wait_until([&] {
        return stored_count(setup.db, "SELECT count(*) FROM outbox") == 1 &&
               stored_count(setup.db, "SELECT count(*) FROM processed_messages") == 0;
    }));
    CHECK(stored_count(setup.db, "SELECT version_number FROM outbox") == 4);  // o3's Allocated
    // The purge logs what it deleted once both deletes are done: just after the counts above can show them.
    CHECK(wait_until([&] { return setup.server.log().find("delivered outbox rows and") != std::string::npos; }));
    CHECK(streamed_orders(setup.port) == std::multiset<std::string>{"o1", "o2", "o3"});

    send_command(setup.port, {{"id", "m1"}, {"batchref", "b1"}, {"qty", "6"}});  // past the window: applied again
    CHECK(wait_until([&] { return purchased_is(setup.server, "LAMP", "b1", 6); }));
    post(setup.server, "/allocate", {{"orderid", "o4"}, {"sku", "LAMP"}, {"qty", 1}}, 202);
    CHECK(wait_until([&] { return streamed_orders(setup.port).count("o4") == 1; }));
    const auto entries = stream_entries(setup.port, "allocation:line_allocated");
    std::set<std::string> ids;
    for (const auto& [id, event] : entries) ids.insert(id);
    CHECK(ids.size() == entries.size());  // the numbering went on after the purge
}
#endif
