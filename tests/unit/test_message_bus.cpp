// Message bus semantics: one handler per command, what leaves through the outbox at once, subscribers in queue
// order, the error sink, retries.
#include <unistd.h>

#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

#include "catch.hpp"
#include "flaky_unit_of_work.hpp"
#include "in_memory_system.hpp"

using namespace allocation;
using allocation::testing::FlakyUnitOfWorkFactory;
using allocation::testing::InMemorySystem;
using allocation::testing::RaceCounters;
using allocation::testing::today;

namespace {

struct FailingPublisher {
    void publish(std::string_view, const ports::OutboxMessage&) { throw std::runtime_error("broker is down"); }
};

}  // namespace

TEST_CASE("a commit's outbox rows go to the outbound handlers at once, and leave nothing behind") {
    InMemorySystem sys;
    sys.bus.handle(commands::CreateBatch{"b1", "LAMP", 10, std::nullopt});
    CHECK(sys.bus.handle(commands::Allocate{"o1", "LAMP", 4}) == "b1");
    CHECK_FALSE(sys.bus.handle(commands::Allocate{"o2", "LAMP", 20}).has_value());

    const auto published = sys.publisher.published();
    REQUIRE(published.size() == 1);
    CHECK(published[0].channel == "line_allocated");
    CHECK(published[0].event == events::Event{events::Allocated{"o1", "LAMP", 4, "b1"}});
    CHECK(published[0].id == outbox_id("LAMP", 2, 0));  // the outbox row's id is the message id
    CHECK(sys.notifier.sent() == std::vector<memory::SentMessage>{{"stock@made.com", "Out of stock for LAMP"}});
    CHECK(sys.store.outbox().backlog() == ports::OutboxBacklog{});  // delivered rows do not accumulate
}

TEST_CASE("an outbound handler that fails: the command succeeds, the row stays, and the relay delivers it later") {
    memory::Store store;
    memory::RecordingNotifier notifier;
    FailingPublisher failing;
    std::vector<std::string> failures;
    const auto later = ports::OutboxClock::now() + std::chrono::hours(1);
    RelayOptions relay_options;
    relay_options.on_error = [&](std::string_view doing, const std::exception& error) {
        failures.push_back(std::string(doing) + ": " + error.what());
    };
    Relay relay(store.outbox(), handlers::Outbound(notifier, failing), relay_options);
    auto bus = bootstrap(memory::UnitOfWorkFactory(store), relay);

    bus.handle(commands::CreateBatch{"b1", "LAMP", 10, std::nullopt});
    CHECK(bus.handle(commands::Allocate{"o1", "LAMP", 1}) == "b1");  // the command itself succeeded
    CHECK(failures == std::vector<std::string>{"delivering " + outbox_id("LAMP", 2, 0) + ": broker is down"});
    CHECK(views::allocations("o1", store.allocations()) == std::vector<ports::AllocationRow>{{"LAMP", "b1"}});
    const auto waiting = store.outbox().undelivered(10);
    REQUIRE(waiting.size() == 1);
    CHECK(waiting[0].attempts == 1);
    CHECK(waiting[0].last_error == "broker is down");

    memory::RecordingPublisher working;
    RelayOptions catch_up;
    catch_up.clock = [&] { return later; };
    Relay again(store.outbox(), handlers::Outbound(notifier, working), catch_up);
    CHECK(again.run_once() == decltype(again)::Step{1, 0});
    REQUIRE(working.published().size() == 1);
    CHECK(working.published()[0].event == events::Event{events::Allocated{"o1", "LAMP", 1, "b1"}});
    CHECK(store.outbox().backlog() == ports::OutboxBacklog{});
}

TEST_CASE("a failing subscriber does not stop the next one") {
    int reports = 0;
    int second_ran = 0;
    BusOptions options;
    options.on_error = [&](const events::Event&, std::string_view handler, const std::exception&) {
        CHECK(handler == "subscriber");
        ++reports;
    };
    InMemorySystem quiet(options);
    quiet.bus.subscribe<events::Allocated>([](const events::Allocated&) { throw std::logic_error("boom"); });
    quiet.bus.subscribe<events::Allocated>([&](const events::Allocated&) { ++second_ran; });
    quiet.bus.handle(commands::CreateBatch{"b1", "LAMP", 10, std::nullopt});
    quiet.bus.handle(commands::Allocate{"o1", "LAMP", 1});
    CHECK(reports == 1);
    CHECK(second_ran == 1);
}

TEST_CASE("a command's failure reaches the caller and raises no events") {
    InMemorySystem sys;
    int allocated = 0;
    sys.bus.subscribe<events::Allocated>([&](const events::Allocated&) { ++allocated; });
    CHECK_THROWS_AS(sys.bus.handle(commands::Allocate{"o1", "NOPE", 1}), InvalidSku);
    CHECK_THROWS_AS(sys.bus.handle(commands::ChangeBatchQuantity{"nope", 1}), UnknownBatch);
    CHECK(allocated == 0);
}

TEST_CASE("raised events are handled in order until the queue is empty") {
    InMemorySystem sys;
    std::vector<std::string> seen;
    sys.bus.subscribe<events::Allocated>([&](const events::Allocated& e) { seen.push_back("A:" + e.orderid + "@" + e.batchref); });
    sys.bus.subscribe<events::Deallocated>([&](const events::Deallocated& e) { seen.push_back("D:" + e.orderid); });
    sys.bus.subscribe<events::OutOfStock>([&](const events::OutOfStock& e) { seen.push_back("X:" + e.sku); });

    sys.bus.handle(commands::CreateBatch{"b1", "LAMP", 30, std::nullopt});
    sys.bus.handle(commands::CreateBatch{"b2", "LAMP", 15, today()});
    sys.bus.handle(commands::Allocate{"o1", "LAMP", 10});
    sys.bus.handle(commands::Allocate{"o2", "LAMP", 10});
    sys.bus.handle(commands::Allocate{"o3", "LAMP", 10});
    seen.clear();

    // b1 shrinks to 15: o3 then o2 are deallocated (newest first); o3 fits in b2, o2 no longer fits anywhere.
    sys.bus.handle(commands::ChangeBatchQuantity{"b1", 15});
    CHECK(seen == std::vector<std::string>{"D:o3", "D:o2", "A:o3@b2", "X:LAMP"});
}

namespace {
template <typename Bus>
concept TakesEvents = requires(Bus& bus, const events::Event& event) { bus.handle(event); };
}  // namespace

TEST_CASE("the bus takes commands only: events come from its commits, and so does the read model") {
    STATIC_REQUIRE_FALSE(TakesEvents<decltype(InMemorySystem::bus)>);
}

TEST_CASE("the bus handles any command through the variant") {
    InMemorySystem sys;
    CHECK_FALSE(sys.bus.handle(Message{commands::CreateBatch{"b1", "LAMP", 10, std::nullopt}}).has_value());
    CHECK(sys.bus.handle(Message{commands::Allocate{"o1", "LAMP", 2}}) == "b1");
    CHECK_FALSE(sys.bus.handle(Message{commands::ChangeBatchQuantity{"b1", 1}}).has_value());
    CHECK(sys.notifier.sent().size() == 1);  // o1 no longer fits: it waits, and the stock team hears of it
}

TEST_CASE("a lost concurrency race is retried with a fresh unit of work") {
    memory::Store store;
    memory::RecordingNotifier notifier;
    memory::RecordingPublisher publisher;
    Relay relay(store.outbox(), handlers::Outbound(notifier, publisher));
    RaceCounters counters;
    BusOptions options;
    options.max_attempts = 3;
    auto bus = bootstrap(FlakyUnitOfWorkFactory{&store, &counters}, relay, options);
    bus.handle(commands::CreateBatch{"b1", "LAMP", 10, std::nullopt});

    SECTION("two lost races, then success") {
        counters.commits_to_fail = 2;
        counters.units_made = 0;
        CHECK(bus.handle(commands::Allocate{"o1", "LAMP", 4}) == "b1");
        CHECK(counters.units_made == 3);
        // Events of the two rolled-back attempts were never published.
        CHECK(publisher.published().size() == 1);
        auto uow = memory::UnitOfWorkFactory(store)();
        CHECK(uow.products().get("LAMP")->batch("b1")->available_quantity() == 6);
        CHECK(uow.products().get("LAMP")->version_number() == 2);
        CHECK(views::allocations("o1", store.allocations()) == std::vector<ports::AllocationRow>{{"LAMP", "b1"}});
    }
    SECTION("every attempt lost: the caller gets ConcurrencyError and nothing is written") {
        counters.commits_to_fail = 3;
        counters.units_made = 0;
        CHECK_THROWS_AS(bus.handle(commands::Allocate{"o1", "LAMP", 4}), ConcurrencyError);
        CHECK(counters.units_made == 3);
        CHECK(publisher.published().empty());
        auto uow = memory::UnitOfWorkFactory(store)();
        CHECK(uow.products().get("LAMP")->batch("b1")->available_quantity() == 10);
        CHECK(uow.products().get("LAMP")->version_number() == 1);
        CHECK(views::allocations("o1", store.allocations()).empty());  // the read model was not touched either
    }
}

TEST_CASE("max_attempts is at least one") {
    memory::Store store;
    memory::RecordingNotifier notifier;
    memory::RecordingPublisher publisher;
    Relay relay(store.outbox(), handlers::Outbound(notifier, publisher));
    RaceCounters counters;
    BusOptions options;
    options.max_attempts = 0;
    auto bus = bootstrap(FlakyUnitOfWorkFactory{&store, &counters}, relay, options);
    CHECK(bus.options().max_attempts == 1);
    counters.commits_to_fail = 1;
    CHECK_THROWS_AS(bus.handle(commands::CreateBatch{"b1", "LAMP", 10, std::nullopt}), ConcurrencyError);
    CHECK(counters.units_made == 1);
}

TEST_CASE("the default error sink writes one line to stderr") {
    std::FILE* capture = std::tmpfile();
    REQUIRE(capture != nullptr);
    std::fflush(stderr);
    int saved = dup(fileno(stderr));
    dup2(fileno(capture), fileno(stderr));
    BusOptions options;
    options.on_error(events::Event{events::OutOfStock{"LAMP"}}, "subscriber", std::runtime_error("disk is full"));
    std::fflush(stderr);
    dup2(saved, fileno(stderr));
    close(saved);

    std::rewind(capture);
    char buffer[256] = {};
    std::size_t n = std::fread(buffer, 1, sizeof buffer - 1, capture);
    std::fclose(capture);
    CHECK(std::string(buffer, n) ==
          "allocation: handler subscriber failed on OutOfStock(sku=LAMP): disk is full\n");
    CHECK(fmt::format("{}", Message{commands::Allocate{"o1", "LAMP", 2}}) == "Allocate(orderid=o1, sku=LAMP, qty=2)");
}

TEST_CASE("the read model changes in the commit that raised its events, before anything is published") {
    memory::Store store;
    memory::RecordingNotifier notifier;
    std::vector<std::vector<ports::AllocationRow>> seen_when_published;
    auto look = [&](std::string_view, const ports::OutboxMessage& message) {
        const auto& allocated = std::get<events::Allocated>(message.event);
        seen_when_published.push_back(views::allocations(allocated.orderid, store.allocations()));
    };
    struct LookingPublisher {
        decltype(look)* publish_;
        void publish(std::string_view channel, const ports::OutboxMessage& message) { (*publish_)(channel, message); }
    } publisher{&look};
    Relay relay(store.outbox(), handlers::Outbound(notifier, publisher));
    auto bus = bootstrap(memory::UnitOfWorkFactory(store), relay);
    bus.handle(commands::CreateBatch{"b1", "LAMP", 10, std::nullopt});
    bus.handle(commands::Allocate{"o1", "LAMP", 2});
    REQUIRE(seen_when_published.size() == 1);
    CHECK(seen_when_published[0] == std::vector<ports::AllocationRow>{{"LAMP", "b1"}});
}

TEST_CASE("a lost race is tried again after a jittered, growing wait") {
    const Backoff backoff{std::chrono::milliseconds(1), std::chrono::milliseconds(100), 0.5};
    CHECK(backoff.delay(1, 0.0) == std::chrono::milliseconds(1));
    CHECK(backoff.delay(3, 0.0) == std::chrono::milliseconds(4));
    CHECK(backoff.delay(3, 1.0) == std::chrono::milliseconds(2));  // half of it taken off at most
    CHECK(backoff.delay(30, 0.0) == std::chrono::milliseconds(100));  // capped
    CHECK(BusOptions{}.retry_backoff.first > std::chrono::microseconds(0));
}
