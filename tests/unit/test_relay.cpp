// The relay over the in-memory outbox, driven step by step under a test clock and test randomness, and on its
// own thread for the stop.
#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "allocation/adapters/memory/memory.hpp"
#include "allocation/allocation.hpp"
#include "catch.hpp"
#include "outbox_rows.hpp"

using namespace allocation;
using namespace std::chrono_literals;
using allocation::testing::ids_of;

namespace {

/// A store with one product, LAMP, and a relay over its outbox whose clock and randomness the test sets.
struct Fixture {
    memory::Store store;
    ports::OutboxTime now = ports::OutboxClock::now() + 1h;  // after every commit of the test
    double random = 0.0;
    std::vector<std::string> errors;
    Relay<memory::Outbox> relay{store.outbox(), options()};

    Fixture() {
        auto uow = memory::UnitOfWorkFactory(store)();
        uow.products().add(Product("LAMP")).add_batch(Batch("b1", "LAMP", 10));
        uow.commit();
    }

    RelayOptions options(std::string owner = "relay-a") {
        RelayOptions o;
        o.owner = std::move(owner);
        o.first_retry = 100ms;
        o.max_retry = 1s;
        o.jitter = 0.5;
        o.clock = [this] { return now; };
        o.random = [this] { return random; };
        o.on_error = [this](std::string_view doing, const std::exception& e) {
            errors.push_back(std::string(doing) + ": " + e.what());
        };
        return o;
    }

    // Commits one allocation (an Allocated row), or an OutOfStock row when qty is more than is left.
    void allocate(const std::string& orderid, int qty) {
        testing::commit_allocation(memory::UnitOfWorkFactory(store), orderid, "LAMP", qty);
    }
};

}  // namespace

TEST_CASE("relay: hands every row to the handler of its type, oldest first, and marks it delivered") {
    Fixture f;
    f.allocate("o1", 2);
    f.allocate("o2", 20);  // out of stock
    f.allocate("o3", 3);
    const auto expected = ids_of(f.store.outbox().undelivered(10));
    std::vector<std::string> seen;
    f.relay.on("Allocated", [&](const ports::OutboxMessage& m) { seen.push_back("A " + m.id + " " + m.payload); });
    f.relay.on("OutOfStock", [&](const ports::OutboxMessage& m) { seen.push_back("O " + m.id); });
    CHECK(f.relay.run_once() == Relay<memory::Outbox>::Step{3, 0});
    CHECK(seen == std::vector<std::string>{
                      "A " + expected[0] + R"( {"orderid":"o1","sku":"LAMP","qty":2,"batchref":"b1"})",
                      "O " + expected[1],
                      "A " + expected[2] + R"( {"orderid":"o3","sku":"LAMP","qty":3,"batchref":"b1"})"});
    CHECK(f.store.outbox().backlog() == ports::OutboxBacklog{});
    CHECK(f.relay.run_once() == Relay<memory::Outbox>::Step{0, 0});
    CHECK(seen.size() == 3);
    CHECK(f.errors.empty());
}

TEST_CASE("relay: an OutOfStock row becomes the book's notification") {
    Fixture f;
    memory::RecordingNotifier notifier;
    f.relay.on("OutOfStock", notify_out_of_stock(notifier));
    f.allocate("o1", 20);
    CHECK(f.relay.run_once().delivered == 1);
    CHECK(notifier.sent() == std::vector<memory::SentMessage>{{"stock@made.com", "Out of stock for LAMP"}});
}

TEST_CASE("relay: a handler that fails gets the row again after the backoff, until it succeeds") {
    Fixture f;
    f.allocate("o1", 1);
    int calls = 0;
    std::vector<std::string> ids;
    f.relay.on("Allocated", [&](const ports::OutboxMessage& m) {
        ids.push_back(m.id);
        if (++calls < 3) throw std::runtime_error("broker away");
    });
    const auto start = f.now;
    f.random = 0.0;  // no jitter taken: the whole wait
    CHECK(f.relay.run_once() == Relay<memory::Outbox>::Step{0, 1});
    auto row = f.store.outbox().undelivered(1).at(0);
    CHECK(row.attempts == 1);
    CHECK(row.last_error == "broker away");
    CHECK(row.next_attempt_at == start + 100ms);
    f.now = start + 99ms;  // not due yet
    CHECK(f.relay.run_once() == Relay<memory::Outbox>::Step{0, 0});
    f.now = start + 100ms;
    f.random = 1.0;  // all the jitter: half the wait
    CHECK(f.relay.run_once() == Relay<memory::Outbox>::Step{0, 1});
    row = f.store.outbox().undelivered(1).at(0);
    CHECK(row.attempts == 2);
    CHECK(row.next_attempt_at == start + 100ms + 100ms);  // 200 ms, halved
    f.now = row.next_attempt_at;
    CHECK(f.relay.run_once() == Relay<memory::Outbox>::Step{1, 0});
    CHECK(ids == std::vector<std::string>(3, row.id));  // the same row, with the same id, each time
    CHECK(f.store.outbox().undelivered(10).empty());
    CHECK(f.errors == std::vector<std::string>(2, "delivering " + row.id + " (Allocated): broker away"));
}

TEST_CASE("relay: the backoff doubles up to its cap, and the jitter shortens it by up to its fraction") {
    RelayOptions o;
    o.first_retry = 100ms;
    o.max_retry = 1s;
    o.jitter = 0.5;
    CHECK(retry_delay(1, o, 0.0) == 100ms);
    CHECK(retry_delay(2, o, 0.0) == 200ms);
    CHECK(retry_delay(3, o, 0.0) == 400ms);
    CHECK(retry_delay(4, o, 0.0) == 800ms);
    CHECK(retry_delay(5, o, 0.0) == 1s);
    CHECK(retry_delay(1'000'000, o, 0.0) == 1s);
    CHECK(retry_delay(3, o, 0.5) == 300ms);
    CHECK(retry_delay(3, o, 1.0) == 200ms);
    CHECK(retry_delay(50, o, 0.25) == 875ms);
    o.jitter = 0.0;
    CHECK(retry_delay(3, o, 0.9) == 400ms);
    o.jitter = 7.0;  // more than all of it is all of it
    CHECK(retry_delay(3, o, 1.0) == 0ms);
}

TEST_CASE("relay: a row of a type nobody handles is a failure, retried like any other") {
    Fixture f;
    f.allocate("o1", 20);  // OutOfStock, no handler for it yet
    CHECK(f.relay.run_once() == Relay<memory::Outbox>::Step{0, 1});
    REQUIRE(f.errors.size() == 1);
    CHECK_THAT(f.errors[0], Catch::Contains("no handler for rows of type OutOfStock"));
    int handled = 0;
    f.relay.on("OutOfStock", [&](const ports::OutboxMessage&) { ++handled; });
    f.now += 1s;
    CHECK(f.relay.run_once() == Relay<memory::Outbox>::Step{1, 0});
    CHECK(handled == 1);
}

TEST_CASE("relay: a failing row does not hold back the rows after it") {
    Fixture f;
    f.allocate("o1", 1);
    f.allocate("o2", 1);
    std::vector<std::string> delivered;
    f.relay.on("Allocated", [&](const ports::OutboxMessage& m) {
        if (m.payload.find("\"o1\"") != std::string::npos) throw std::runtime_error("no");
        delivered.push_back(m.id);
    });
    CHECK(f.relay.run_once() == Relay<memory::Outbox>::Step{1, 1});
    CHECK(delivered == std::vector<std::string>{outbox_id("LAMP", 3, 0)});
    CHECK(ids_of(f.store.outbox().undelivered(10)) == std::vector<std::string>{outbox_id("LAMP", 2, 0)});
}

TEST_CASE("relay: two relays on one outbox deliver each row once, the leases keep them apart") {
    Fixture f;
    for (int i = 0; i < 6; ++i) f.allocate("o" + std::to_string(i), 1);
    RelayOptions options_a = f.options("relay-a"), options_b = f.options("relay-b");
    options_a.batch_size = 3;
    options_b.batch_size = 2;
    Relay<memory::Outbox> a(f.store.outbox(), options_a), b(f.store.outbox(), options_b);
    std::vector<std::string> by_a, by_b;
    b.on("Allocated", [&](const ports::OutboxMessage& m) { by_b.push_back(m.id); });
    a.on("Allocated", [&](const ports::OutboxMessage& m) {
        // While a holds its claim on the three oldest rows, b takes the next two.
        if (by_a.empty()) CHECK(b.run_once() == Relay<memory::Outbox>::Step{2, 0});
        by_a.push_back(m.id);
    });
    CHECK(a.run_once() == Relay<memory::Outbox>::Step{3, 0});
    CHECK(b.run_once() == Relay<memory::Outbox>::Step{1, 0});
    CHECK(a.run_once() == Relay<memory::Outbox>::Step{0, 0});
    std::vector<std::string> all;
    for (int version = 2; version < 8; ++version) all.push_back(outbox_id("LAMP", version, 0));
    CHECK(by_a == std::vector<std::string>(all.begin(), all.begin() + 3));
    CHECK(by_b == std::vector<std::string>(all.begin() + 3, all.end()));
}

TEST_CASE("relay: on its thread it delivers what is committed, and stops at once when asked") {
    Fixture f;
    RelayOptions o = f.options();
    o.idle_wait = 24h;  // only wake() and stop() end a wait: a stop that slept it out would never return
    o.on_error = nullptr;
    Relay<memory::Outbox> relay(f.store.outbox(), o);
    std::promise<std::string> first;
    std::atomic<int> calls{0};
    relay.on("Allocated", [&](const ports::OutboxMessage& m) {
        if (calls++ == 0) first.set_value(m.id);
    });
    relay.start();
    CHECK_THROWS_AS(relay.start(), std::logic_error);
    f.allocate("o1", 1);
    relay.wake();
    CHECK(first.get_future().get() == outbox_id("LAMP", 2, 0));
    relay.stop();
    relay.stop();  // twice is fine
    CHECK(calls == 1);
    CHECK(f.store.outbox().backlog().undelivered == 0);
}

TEST_CASE("relay: a stop during a batch finishes the row in hand and hands the others back") {
    Fixture f;
    for (int i = 0; i < 3; ++i) f.allocate("o" + std::to_string(i), 1);
    Relay<memory::Outbox> relay(f.store.outbox(), f.options());
    std::promise<void> entered;
    std::vector<std::string> delivered;
    relay.on("Allocated", [&](const ports::OutboxMessage& m) {
        if (delivered.empty()) {
            entered.set_value();
            while (!relay.stopping()) std::this_thread::yield();  // stop() has been called
        }
        delivered.push_back(m.id);
    });
    relay.start();
    entered.get_future().get();
    relay.stop();
    CHECK(delivered == std::vector<std::string>{outbox_id("LAMP", 2, 0)});
    // Handed back: not leased, no attempt counted, claimable by another relay at once.
    const auto now = ports::OutboxClock::now();
    const auto rest = f.store.outbox().claim("relay-b", now, now + 1s, 10);
    CHECK(ids_of(rest) == std::vector<std::string>{outbox_id("LAMP", 3, 0), outbox_id("LAMP", 4, 0)});
    for (const auto& row : rest) CHECK(row.attempts == 0);
}

namespace {
/// The fixture's relay options, with `maintenance` run every `every`, which is also the idle wait.
RelayOptions with_maintenance(Fixture& f, std::chrono::milliseconds every, std::function<void()> maintenance) {
    RelayOptions o = f.options();
    o.idle_wait = every;
    o.maintenance_every = every;
    o.maintenance = std::move(maintenance);
    return o;
}
}  // namespace

TEST_CASE("relay: on its thread it runs its maintenance at the start and then again and again, a failure reported") {
    Fixture f;
    std::atomic<int> runs{0};
    std::promise<void> third;
    Relay<memory::Outbox> relay(f.store.outbox(), with_maintenance(f, 1ms, [&] {
        const int run = ++runs;
        if (run == 3) third.set_value();
        if (run == 1) throw std::runtime_error("disk on fire");
    }));
    relay.on("Allocated", [](const ports::OutboxMessage&) {});
    relay.start();
    third.get_future().get();
    relay.stop();  // joins the thread: its reports are all in f.errors
    CHECK(runs >= 3);
    CHECK(f.errors == std::vector<std::string>{"maintenance: disk on fire"});
}

TEST_CASE("relay: without maintenance_every passing, the maintenance runs once, at the start") {
    Fixture f;
    std::atomic<int> runs{0};
    Relay<memory::Outbox> relay(f.store.outbox(), with_maintenance(f, 24h, [&] { ++runs; }));
    std::promise<void> delivered;
    relay.on("Allocated", [&](const ports::OutboxMessage&) { delivered.set_value(); });
    relay.start();
    f.allocate("o1", 1);
    relay.wake();
    delivered.get_future().get();  // the thread went round its loop again after the first maintenance
    relay.stop();
    CHECK(runs == 1);
}

namespace {
/// An in-memory outbox whose claims fail while `down` is set, as one whose database is away.
struct FlakyOutbox : memory::Outbox {
    std::atomic<bool> down{true};
    std::atomic<int> claims{0};
    std::vector<ports::OutboxMessage> claim(std::string_view owner, ports::OutboxTime now, ports::OutboxTime until,
                                            std::size_t limit) {
        ++claims;
        if (down) throw std::runtime_error("database unavailable");
        return memory::Outbox::claim(owner, now, until, limit);
    }
};
}  // namespace

TEST_CASE("relay: on its thread, an outbox that fails is tried again after the backoff, not every idle_wait") {
    Fixture f;
    FlakyOutbox outbox;
    RelayOptions o = f.options();
    o.idle_wait = 1ms;
    o.first_retry = 24h;  // after a failure, only wake() or stop() ends the wait
    Relay<FlakyOutbox> relay(outbox, o);
    relay.on("Allocated", [](const ports::OutboxMessage&) {});
    relay.start();
    while (outbox.claims == 0) std::this_thread::yield();
    std::this_thread::sleep_for(50ms);  // fifty idle_waits: without the backoff, fifty more claims
    CHECK(outbox.claims == 1);
    relay.wake();
    while (outbox.claims == 1) std::this_thread::yield();
    relay.stop();
    CHECK(outbox.claims == 2);
    CHECK(f.errors == std::vector<std::string>(2, "claiming and delivering rows: database unavailable"));
}
