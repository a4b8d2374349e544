// The relay over the in-memory outbox: each commit's rows at once (deliver), and the catch-up driven step by step
// under a test clock and test randomness, and on its own thread for the waits and the stop.
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

using Handler = std::function<void(const ports::OutboxMessage&)>;

/// Calls whatever handler the test has set by then.
struct Forward {
    const Handler* handler;
    void operator()(const ports::OutboxMessage& message) const { (*handler)(message); }
};

using TestRelay = Relay<memory::Outbox, Forward>;
using Step = TestRelay::Step;

/// A store with one product, LAMP, and a relay over its outbox whose clock, randomness and handler the test sets.
struct Fixture {
    memory::Store store;
    ports::OutboxTime now = ports::OutboxClock::now() + 1h;  // after every commit's handoff
    double random = 0.0;
    std::vector<std::string> errors;
    Handler handler = [](const ports::OutboxMessage&) {};
    TestRelay relay{store.outbox(), Forward{&handler}, options()};

    Fixture() {
        auto uow = memory::UnitOfWorkFactory(store)();
        uow.products().add(Product("LAMP")).add_batch(Batch("b1", "LAMP", 10));
        uow.commit();
    }

    RelayOptions options(std::string owner = "relay-a") {
        RelayOptions o;
        o.owner = std::move(owner);
        o.backoff = Backoff{100ms, 1s, 0.5};
        o.clock = [this] { return now; };
        o.random = [this] { return random; };
        o.on_error = [this](std::string_view doing, const std::exception& e) {
            errors.push_back(std::string(doing) + ": " + e.what());
        };
        return o;
    }

    // Commits one allocation (an Allocated row), or an OutOfStock row when qty is more than is left; returns the
    // rows the commit stored, as the bus would hand them to deliver().
    std::vector<ports::OutboxMessage> allocate(const std::string& orderid, int qty) {
        auto uow = memory::UnitOfWorkFactory(store)();
        uow.products().get_for_order("LAMP", orderid)->allocate(OrderLine{orderid, "LAMP", qty});
        uow.commit();
        return uow.collect_outbox();
    }
};

std::string orderid_of(const ports::OutboxMessage& m) { return std::get<events::Allocated>(m.event).orderid; }

}  // namespace

TEST_CASE("relay: hands every row to the handler of its type, oldest first, and marks it delivered") {
    Fixture f;
    f.allocate("o1", 2);
    f.allocate("o2", 20);  // out of stock
    f.allocate("o3", 3);
    const auto expected = ids_of(f.store.outbox().undelivered(10));
    std::vector<std::string> seen;
    f.handler = [&](const ports::OutboxMessage& m) {
        seen.push_back(std::string(event_type(m.event)).substr(0, 1) + " " + m.id + " " + to_json(m.event));
    };
    CHECK(f.relay.run_once() == Step{3, 0});
    CHECK(seen == std::vector<std::string>{
                      "A " + expected[0] + R"( {"orderid":"o1","sku":"LAMP","qty":2,"batchref":"b1"})",
                      "O " + expected[1] + R"( {"sku":"LAMP"})",
                      "A " + expected[2] + R"( {"orderid":"o3","sku":"LAMP","qty":3,"batchref":"b1"})"});
    CHECK(f.store.outbox().backlog() == ports::OutboxBacklog{});
    CHECK(f.relay.run_once() == Step{0, 0});
    CHECK(seen.size() == 3);
    CHECK(f.errors.empty());
}

TEST_CASE("outbound handlers: an OutOfStock row becomes the book's notification, an Allocated row is published") {
    Fixture f;
    memory::RecordingNotifier notifier;
    memory::RecordingPublisher publisher;
    const handlers::Outbound outbound(notifier, publisher);
    const auto out_of_stock = f.allocate("o1", 20);
    const auto allocated = f.allocate("o2", 2);
    outbound(out_of_stock.at(0));
    outbound(allocated.at(0));
    CHECK(notifier.sent() == std::vector<memory::SentMessage>{{"stock@made.com", "Out of stock for LAMP"}});
    CHECK(publisher.published() == std::vector<memory::PublishedEvent>{
                                       {"line_allocated", events::Allocated{"o2", "LAMP", 2, "b1"}, allocated[0].id}});
    auto deallocated = allocated[0];
    deallocated.event = events::Deallocated{"o2", "LAMP", 2};  // does not leave the process: nobody handles it
    CHECK_THROWS_WITH(outbound(deallocated), "no outbound handler for outbox row " + deallocated.id);
}

TEST_CASE("relay: a handler that fails gets the row again after the backoff, until it succeeds") {
    Fixture f;
    f.allocate("o1", 1);
    int calls = 0;
    std::vector<std::string> ids;
    f.handler = [&](const ports::OutboxMessage& m) {
        ids.push_back(m.id);
        if (++calls < 3) throw std::runtime_error("broker away");
    };
    const auto start = f.now;
    f.random = 0.0;  // no jitter taken: the whole wait
    CHECK(f.relay.run_once() == Step{0, 1});
    auto row = f.store.outbox().undelivered(1).at(0);
    CHECK(row.attempts == 1);
    CHECK(row.last_error == "broker away");
    CHECK(row.next_attempt_at == start + 100ms);
    f.now = start + 99ms;  // not due yet
    CHECK(f.relay.run_once() == Step{0, 0});
    f.now = start + 100ms;
    f.random = 1.0;  // all the jitter: half the wait
    CHECK(f.relay.run_once() == Step{0, 1});
    row = f.store.outbox().undelivered(1).at(0);
    CHECK(row.attempts == 2);
    CHECK(row.next_attempt_at == start + 100ms + 100ms);  // 200 ms, halved
    f.now = row.next_attempt_at;
    CHECK(f.relay.run_once() == Step{1, 0});
    CHECK(ids == std::vector<std::string>(3, row.id));  // the same row, with the same id, each time
    CHECK(f.store.outbox().undelivered(10).empty());
    // The second failure came within RelayOptions::summarise_every of the first: counted, not reported.
    CHECK(f.errors == std::vector<std::string>{"delivering " + row.id + ": broker away",
                                               "delivering again after 2 failed deliveries: the last failure: broker away"});
}

TEST_CASE("relay: failing deliveries are reported when they start, then at most once every summarise_every with "
          "how many went unsaid, and when they end") {
    Fixture f;
    f.handler = [](const ports::OutboxMessage&) { throw std::runtime_error("broker away"); };
    std::vector<std::vector<ports::OutboxMessage>> commits;
    for (int i = 0; i < 12; ++i) commits.push_back(f.allocate("o" + std::to_string(i), 1));
    for (int i = 0; i < 10; ++i) f.relay.deliver(commits[static_cast<std::size_t>(i)]);
    f.now += 1s;
    f.relay.deliver(commits[10]);
    CHECK(f.errors == std::vector<std::string>{"delivering " + commits[0][0].id + ": broker away"});

    f.now += 4s;  // 5 s after the first report: RelayOptions::summarise_every
    f.relay.deliver(commits[11]);
    REQUIRE(f.errors.size() == 2);
    CHECK(f.errors[1] == "delivering " + commits[11][0].id + " (10 failed deliveries since the last report): broker away");

    f.handler = [](const ports::OutboxMessage&) {};
    f.now += 1h;
    CHECK(f.relay.run_once() == Step{12, 0});
    CHECK(f.relay.run_once() == Step{0, 0});
    REQUIRE(f.errors.size() == 3);
    CHECK(f.errors[2] == "delivering again after 12 failed deliveries: the last failure: broker away");
    CHECK(f.store.outbox().backlog() == ports::OutboxBacklog{});
}

TEST_CASE("backoff: the wait doubles up to its cap, and the jitter shortens it by up to its fraction") {
    Backoff o{100ms, 1s, 0.5};
    CHECK(o.delay(1, 0.0) == 100ms);
    CHECK(o.delay(2, 0.0) == 200ms);
    CHECK(o.delay(3, 0.0) == 400ms);
    CHECK(o.delay(4, 0.0) == 800ms);
    CHECK(o.delay(5, 0.0) == 1s);
    CHECK(o.delay(1'000'000, 0.0) == 1s);
    CHECK(o.delay(3, 0.5) == 300ms);
    CHECK(o.delay(3, 1.0) == 200ms);
    CHECK(o.delay(50, 0.25) == 875ms);
    o.jitter = 0.0;
    CHECK(o.delay(3, 0.9) == 400ms);
    o.jitter = 7.0;  // more than all of it is all of it
    CHECK(o.delay(3, 1.0) == 0ms);
    o.jitter = 0.5;
    const auto drawn = o.delay(2);  // this thread's own randomness
    CHECK(drawn >= 100ms);
    CHECK(drawn <= 200ms);
}

TEST_CASE("relay: deliver() hands a commit's rows over at once and marks them; the outbox forgets them") {
    Fixture f;
    std::vector<std::string> seen;
    f.handler = [&](const ports::OutboxMessage& m) { seen.push_back(m.id); };
    auto rows = f.allocate("o1", 2);
    auto more = f.allocate("o2", 20);  // out of stock
    rows.insert(rows.end(), more.begin(), more.end());
    REQUIRE(rows.size() == 2);
    f.relay.deliver(rows);
    CHECK(seen == ids_of(rows));
    CHECK(f.store.outbox().backlog() == ports::OutboxBacklog{});
    CHECK(f.errors.empty());
}

TEST_CASE("relay: a row that deliver() could not hand over is kept, with its failure, for the catch-up") {
    Fixture f;
    f.handler = [](const ports::OutboxMessage& m) {
        if (orderid_of(m) == "o1") throw std::runtime_error("broker away");
    };
    const auto first = f.allocate("o1", 2);
    const auto second = f.allocate("o2", 3);
    f.relay.deliver(first);
    f.relay.deliver(second);
    const auto kept = f.store.outbox().undelivered(10);
    REQUIRE(ids_of(kept) == ids_of(first));
    CHECK(kept[0].attempts == 1);
    CHECK(kept[0].last_error == "broker away");
    CHECK(kept[0].next_attempt_at == f.now + 100ms);
    CHECK(f.errors == std::vector<std::string>{"delivering " + first[0].id + ": broker away",
                                               "delivering again after 1 failed delivery: the last failure: broker away"});

    std::vector<std::string> caught_up;
    f.handler = [&](const ports::OutboxMessage& m) { caught_up.push_back(m.id); };
    CHECK(f.relay.run_once() == Step{0, 0});  // not due yet
    f.now += 100ms;
    CHECK(f.relay.run_once() == Step{1, 0});
    CHECK(caught_up == ids_of(first));
    CHECK(f.store.outbox().backlog() == ports::OutboxBacklog{});
}

TEST_CASE("relay: of the rows deliver() hands over together, only those the handler took are marked") {
    Fixture f;
    f.handler = [](const ports::OutboxMessage& m) {
        if (orderid_of(m) == "o2") throw std::runtime_error("broker away");
    };
    std::vector<ports::OutboxMessage> rows;
    for (const char* order : {"o1", "o2", "o3"}) {
        const auto committed = f.allocate(order, 1);
        rows.insert(rows.end(), committed.begin(), committed.end());
    }
    REQUIRE(rows.size() == 3);
    f.relay.deliver(rows);
    const auto kept = f.store.outbox().undelivered(10);
    REQUIRE(ids_of(kept) == std::vector<std::string>{rows[1].id});
    CHECK(kept[0].attempts == 1);
    CHECK(f.store.outbox().backlog().undelivered == 1);
}

TEST_CASE("relay: a committed row nobody delivered is the catch-up's only after the handoff") {
    Fixture f;
    f.now = ports::OutboxClock::now();
    const auto rows = f.allocate("o1", 2);  // its committer died before delivering it, say
    REQUIRE(rows.size() == 1);
    CHECK(rows[0].next_attempt_at == rows[0].created_at + outbox_handoff);
    std::vector<std::string> seen;
    f.handler = [&](const ports::OutboxMessage& m) { seen.push_back(m.id); };
    CHECK(f.relay.run_once() == Step{0, 0});
    f.now = rows[0].created_at + outbox_handoff;
    CHECK(f.relay.run_once() == Step{1, 0});
    CHECK(seen == ids_of(rows));
}

TEST_CASE("relay: a failing row does not hold back the rows after it") {
    Fixture f;
    f.allocate("o1", 1);
    f.allocate("o2", 1);
    std::vector<std::string> delivered;
    f.handler = [&](const ports::OutboxMessage& m) {
        if (orderid_of(m) == "o1") throw std::runtime_error("no");
        delivered.push_back(m.id);
    };
    CHECK(f.relay.run_once() == Step{1, 1});
    CHECK(delivered == std::vector<std::string>{outbox_id("LAMP", 3, 0)});
    CHECK(ids_of(f.store.outbox().undelivered(10)) == std::vector<std::string>{outbox_id("LAMP", 2, 0)});
}

TEST_CASE("relay: two relays on one outbox deliver each row once, the leases keep them apart") {
    Fixture f;
    for (int i = 0; i < 6; ++i) f.allocate("o" + std::to_string(i), 1);
    RelayOptions options_a = f.options("relay-a"), options_b = f.options("relay-b");
    options_a.batch_size = 3;
    options_b.batch_size = 2;
    std::vector<std::string> by_a, by_b;
    Handler handle_a, handle_b = [&](const ports::OutboxMessage& m) { by_b.push_back(m.id); };
    TestRelay a(f.store.outbox(), Forward{&handle_a}, options_a), b(f.store.outbox(), Forward{&handle_b}, options_b);
    handle_a = [&](const ports::OutboxMessage& m) {
        // While a holds its claim on the three oldest rows, b takes the next two.
        if (by_a.empty()) CHECK(b.run_once() == Step{2, 0});
        by_a.push_back(m.id);
    };
    CHECK(a.run_once() == Step{3, 0});
    CHECK(b.run_once() == Step{1, 0});
    CHECK(a.run_once() == Step{0, 0});
    std::vector<std::string> all;
    for (int version = 2; version < 8; ++version) all.push_back(outbox_id("LAMP", version, 0));
    CHECK(by_a == std::vector<std::string>(all.begin(), all.begin() + 3));
    CHECK(by_b == std::vector<std::string>(all.begin() + 3, all.end()));
}

TEST_CASE("relay: on its thread it delivers what is committed, and stops at once when asked") {
    Fixture f;
    RelayOptions o = f.options();
    o.poll = 24h;  // only wake() and stop() end a wait: a stop that slept it out would never return
    o.on_error = nullptr;
    std::promise<std::string> first;
    std::atomic<int> calls{0};
    const Handler handler = [&](const ports::OutboxMessage& m) {
        if (calls++ == 0) first.set_value(m.id);
    };
    TestRelay relay(f.store.outbox(), Forward{&handler}, o);
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
    std::promise<void> entered;
    std::vector<std::string> delivered;
    Handler handler;
    TestRelay relay(f.store.outbox(), Forward{&handler}, f.options());
    handler = [&](const ports::OutboxMessage& m) {
        if (delivered.empty()) {
            entered.set_value();
            while (!relay.stopping()) std::this_thread::yield();  // stop() has been called
        }
        delivered.push_back(m.id);
    };
    relay.start();
    entered.get_future().get();
    relay.stop();
    CHECK(delivered == std::vector<std::string>{outbox_id("LAMP", 2, 0)});
    // Handed back: not leased, no attempt counted, claimable by another relay at once.
    const auto now = f.now;
    const auto rest = f.store.outbox().claim("relay-b", now, now + 1s, 10);
    CHECK(ids_of(rest) == std::vector<std::string>{outbox_id("LAMP", 3, 0), outbox_id("LAMP", 4, 0)});
    for (const auto& row : rest) CHECK(row.attempts == 0);
}

namespace {
/// The fixture's relay options, with `maintenance` run every `every`, which is also the poll.
RelayOptions with_maintenance(Fixture& f, std::chrono::milliseconds every, std::function<void()> maintenance) {
    RelayOptions o = f.options();
    o.poll = every;
    o.maintenance_every = every;
    o.maintenance = std::move(maintenance);
    return o;
}
}  // namespace

TEST_CASE("relay: on its thread it runs its maintenance at the start and then again and again, a failure reported") {
    Fixture f;
    std::atomic<int> runs{0};
    std::promise<void> third;
    TestRelay relay(f.store.outbox(), Forward{&f.handler}, with_maintenance(f, 1ms, [&] {
        const int run = ++runs;
        if (run == 3) third.set_value();
        if (run == 1) throw std::runtime_error("disk on fire");
    }));
    relay.start();
    third.get_future().get();
    relay.stop();  // joins the thread: its reports are all in f.errors
    CHECK(runs >= 3);
    CHECK(f.errors == std::vector<std::string>{"maintenance: disk on fire"});
}

TEST_CASE("relay: without maintenance_every passing, the maintenance runs once, at the start") {
    Fixture f;
    std::atomic<int> runs{0};
    std::promise<void> delivered;
    const Handler handler = [&](const ports::OutboxMessage&) { delivered.set_value(); };
    TestRelay relay(f.store.outbox(), Forward{&handler}, with_maintenance(f, 24h, [&] { ++runs; }));
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

TEST_CASE("relay: on its thread, an outbox that fails is tried again after the backoff, not every poll") {
    Fixture f;
    FlakyOutbox outbox;
    RelayOptions o = f.options();
    o.poll = 1ms;
    o.backoff.first = 24h;  // after a failure, only wake() or stop() ends the wait
    o.backoff.cap = 24h;
    Relay relay(outbox, Forward{&f.handler}, o);
    relay.start();
    while (outbox.claims == 0) std::this_thread::yield();
    std::this_thread::sleep_for(50ms);  // fifty polls: without the backoff, fifty more claims
    CHECK(outbox.claims == 1);
    relay.wake();
    while (outbox.claims == 1) std::this_thread::yield();
    relay.stop();
    CHECK(outbox.claims == 2);
    CHECK(f.errors == std::vector<std::string>(2, "claiming and delivering rows: database unavailable"));
}

TEST_CASE("relay: on its thread, a row that deliver() could not hand over is tried again when its backoff is over") {
    Fixture f;
    RelayOptions o = f.options();
    o.clock = nullptr;  // the system clock: the thread really waits
    o.poll = 24h;       // so only the retry's time can end its wait
    o.backoff = Backoff{20ms, 20ms, 0.0};
    std::atomic<int> calls{0};
    std::promise<void> retried;
    const Handler handler = [&](const ports::OutboxMessage&) {
        if (++calls == 1) throw std::runtime_error("broker away");
        retried.set_value();
    };
    TestRelay relay(f.store.outbox(), Forward{&handler}, o);
    relay.start();
    relay.deliver(f.allocate("o1", 1));
    CHECK(retried.get_future().wait_for(10s) == std::future_status::ready);
    relay.stop();
    CHECK(calls == 2);
    CHECK(f.store.outbox().backlog() == ports::OutboxBacklog{});
}
