// Message bus semantics: one handler per command, many per event, queue order, error sink, retries.
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

struct Failure {
    std::string handler;
    std::string what;
};

struct FailingPublisher {
    void publish(std::string_view, const events::Event&) { throw std::runtime_error("broker is down"); }
};

}  // namespace

TEST_CASE("a failing event handler is reported and the other handlers still run") {
    memory::Store store;
    memory::AllocationsView& view = store.allocations();
    memory::RecordingNotifier notifier;
    FailingPublisher publisher;
    std::vector<Failure> failures;
    BusOptions options;
    options.on_error = [&](const events::Event& event, std::string_view handler, const std::exception& error) {
        CHECK(std::holds_alternative<events::Allocated>(event));
        failures.push_back({std::string(handler), error.what()});
    };
    auto bus = bootstrap(memory::UnitOfWorkFactory(store), notifier, publisher, options);

    bus.handle(commands::CreateBatch{"b1", "LAMP", 10, std::nullopt});
    CHECK(bus.handle(commands::Allocate{"o1", "LAMP", 1}) == "b1");  // the command itself succeeded

    REQUIRE(failures.size() == 1);
    CHECK(failures[0].handler == "publish_allocated_event");
    CHECK(failures[0].what == "broker is down");
    CHECK(views::allocations("o1", view) == std::vector<ports::AllocationRow>{{"LAMP", "b1"}});
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

TEST_CASE("the bus handles any message through the variant, and external events") {
    InMemorySystem sys;
    CHECK_FALSE(sys.bus.handle(Message{commands::CreateBatch{"b1", "LAMP", 10, std::nullopt}}).has_value());
    CHECK(sys.bus.handle(Message{commands::Allocate{"o1", "LAMP", 2}}) == "b1");
    sys.bus.handle(Message{events::OutOfStock{"LAMP"}});
    CHECK(sys.notifier.sent().size() == 1);
}

TEST_CASE("a lost concurrency race is retried with a fresh unit of work") {
    memory::Store store;
    memory::RecordingNotifier notifier;
    memory::RecordingPublisher publisher;
    RaceCounters counters;
    BusOptions options;
    options.max_attempts = 3;
    auto bus = bootstrap(FlakyUnitOfWorkFactory{&store, &counters}, notifier, publisher, options);
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
    RaceCounters counters;
    BusOptions options;
    options.max_attempts = 0;
    auto bus = bootstrap(FlakyUnitOfWorkFactory{&store, &counters}, notifier, publisher, options);
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
    options.on_error(events::Event{events::OutOfStock{"LAMP"}}, "send_out_of_stock_notification",
                     std::runtime_error("smtp is down"));
    std::fflush(stderr);
    dup2(saved, fileno(stderr));
    close(saved);

    std::rewind(capture);
    char buffer[256] = {};
    std::size_t n = std::fread(buffer, 1, sizeof buffer - 1, capture);
    std::fclose(capture);
    CHECK(std::string(buffer, n) ==
          "allocation: handler send_out_of_stock_notification failed on OutOfStock(sku=LAMP): smtp is down\n");
    CHECK(fmt::format("{}", Message{commands::Allocate{"o1", "LAMP", 2}}) == "Allocate(orderid=o1, sku=LAMP, qty=2)");
}

TEST_CASE("the read model changes in the commit that raised its events, before anything is published") {
    InMemorySystem sys;
    std::vector<std::vector<ports::AllocationRow>> seen_when_published;
    sys.bus.subscribe<events::Allocated>(
        [&](const events::Allocated& e) { seen_when_published.push_back(views::allocations(e.orderid, sys.view)); });
    sys.bus.handle(commands::CreateBatch{"b1", "LAMP", 10, std::nullopt});
    sys.bus.handle(commands::Allocate{"o1", "LAMP", 2});
    REQUIRE(seen_when_published.size() == 1);
    CHECK(seen_when_published[0] == std::vector<ports::AllocationRow>{{"LAMP", "b1"}});
}
