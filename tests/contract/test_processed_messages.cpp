// The processed-messages capability on every adapter: ids stored with the commit and its effect, or not at all.
#include <chrono>
#include <cstddef>
#include <string>
#include <thread>

#include "adapters.hpp"
#include "allocation/allocation.hpp"
#include "catch.hpp"

using namespace allocation;
using allocation::contract::Adapters;

namespace {

template <typename Adapter>
void seed(Adapter& adapter) {
    auto uow = adapter.factory()();
    uow.products().add(Product("LAMP")).add_batch(Batch("LAMP-b1", "LAMP", 100));
    uow.commit();
}

template <typename Adapter>
bool seen(Adapter& adapter, std::string_view id) {
    auto uow = adapter.factory()();
    return uow.messages().seen(id);
}

template <typename Adapter>
int purchased(Adapter& adapter) {
    auto uow = adapter.factory()();
    return uow.products().get("LAMP")->batch("LAMP-b1")->purchased_quantity();
}

struct SeenReturnsInt {
    int seen(std::string_view) const { return 0; }
    void record(std::string_view) {}
    std::size_t purge(std::chrono::system_clock::time_point) { return 0; }
};
struct NoRecord {
    bool seen(std::string_view) const { return false; }
    std::size_t purge(std::chrono::system_clock::time_point) { return 0; }
};
struct NoPurge {
    bool seen(std::string_view) const { return false; }
    void record(std::string_view) {}
};

}  // namespace

TEMPLATE_LIST_TEST_CASE("messages: the adapter's unit of work records processed messages", "[contract][messages]",
                        Adapters) {
    STATIC_REQUIRE(ports::RecordsProcessedMessages<decltype(std::declval<TestType&>().factory()())>);
}

TEMPLATE_LIST_TEST_CASE("messages: an id is recorded with the commit and seen afterwards", "[contract][messages]",
                        Adapters) {
    TestType adapter;
    {
        auto uow = adapter.factory()();
        CHECK_FALSE(uow.messages().seen("m1"));
        uow.messages().record("m1");
        CHECK(uow.messages().seen("m1"));  // by the unit of work that recorded it, before its commit
        uow.commit();
        CHECK(uow.messages().seen("m1"));
    }
    CHECK(seen(adapter, "m1"));
    CHECK_FALSE(seen(adapter, "m2"));
    CHECK_FALSE(seen(adapter, "m"));
}

TEMPLATE_LIST_TEST_CASE("messages: an id recorded by work that is rolled back is gone", "[contract][messages]",
                        Adapters) {
    TestType adapter;
    seed(adapter);
    {
        auto uow = adapter.factory()();
        uow.messages().record("m1");
        uow.products().get_by_batchref("LAMP-b1")->change_batch_quantity("LAMP-b1", 10);
        uow.rollback();
        CHECK_FALSE(uow.messages().seen("m1"));
        uow.commit();  // nothing left to store
    }
    {
        auto uow = adapter.factory()();
        uow.messages().record("m2");
    }  // leaves the scope without commit
    CHECK_FALSE(seen(adapter, "m1"));
    CHECK_FALSE(seen(adapter, "m2"));
    CHECK(purchased(adapter) == 100);
}

TEMPLATE_LIST_TEST_CASE("messages: the handler applies a message id once, in the commit of its effect",
                        "[contract][messages]", Adapters) {
    TestType adapter;
    seed(adapter);
    {
        auto uow = adapter.factory()();
        handlers::change_batch_quantity(commands::ChangeBatchQuantity{"LAMP-b1", 10, "m1"}, uow);
    }
    {
        auto uow = adapter.factory()();
        handlers::change_batch_quantity(commands::ChangeBatchQuantity{"LAMP-b1", 20, "m2"}, uow);
        handlers::change_batch_quantity(commands::ChangeBatchQuantity{"LAMP-b1", 10, "m1"}, uow);
    }
    CHECK(purchased(adapter) == 20);
    CHECK(seen(adapter, "m1"));
    CHECK(seen(adapter, "m2"));
}

TEMPLATE_LIST_TEST_CASE("messages: a purge forgets the ids committed before its time, and only those",
                        "[contract][messages]", Adapters) {
    using namespace std::chrono_literals;
    TestType adapter;
    seed(adapter);
    const auto before_commit = std::chrono::system_clock::now() - 1s;
    {
        auto uow = adapter.factory()();
        handlers::change_batch_quantity(commands::ChangeBatchQuantity{"LAMP-b1", 10, "m1"}, uow);
    }
    {
        auto uow = adapter.factory()();
        CHECK(uow.messages().purge(before_commit) == 0);
    }
    CHECK(seen(adapter, "m1"));
    {
        auto uow = adapter.factory()();
        uow.messages().record("m2");  // recorded, not committed: a purge leaves it
        CHECK(uow.messages().purge(std::chrono::system_clock::now() + 1h) == 1);
        CHECK_FALSE(uow.messages().seen("m1"));
        CHECK(uow.messages().seen("m2"));
        uow.commit();
    }
    CHECK_FALSE(seen(adapter, "m1"));
    CHECK(seen(adapter, "m2"));
    // Past the window, a message that comes again is applied again.
    {
        auto uow = adapter.factory()();
        handlers::change_batch_quantity(commands::ChangeBatchQuantity{"LAMP-b1", 20, "m3"}, uow);
    }
    {
        auto uow = adapter.factory()();
        handlers::change_batch_quantity(commands::ChangeBatchQuantity{"LAMP-b1", 10, "m1"}, uow);
    }
    CHECK(purchased(adapter) == 10);
    CHECK(seen(adapter, "m1"));
}

#ifdef ALLOCATION_CONTRACT_WITH_SQLITE
TEST_CASE("messages: on SQLite, an id committed meanwhile by another unit of work is a lost race",
          "[contract][messages]") {
    allocation::contract::SqliteFileAdapter adapter;
    auto uow = adapter.factory()();
    REQUIRE_FALSE(uow.messages().seen("m1"));
    uow.messages().record("m1");
    std::thread other([&] {
        auto theirs = adapter.factory()();
        theirs.messages().record("m1");
        theirs.commit();
    });
    other.join();
    CHECK_THROWS_AS(uow.commit(), ConcurrencyError);
    uow.rollback();
    CHECK(uow.messages().seen("m1"));
}
#endif

TEST_CASE("messages: a type that misses a requirement does not model the port", "[contract][messages]") {
    STATIC_REQUIRE_FALSE(ports::ProcessedMessages<SeenReturnsInt>);
    STATIC_REQUIRE_FALSE(ports::ProcessedMessages<NoRecord>);
    STATIC_REQUIRE_FALSE(ports::ProcessedMessages<NoPurge>);
    STATIC_REQUIRE(ports::ProcessedMessages<memory::ProcessedMessages>);
}
