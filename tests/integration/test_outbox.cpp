// The SQLite outbox against real files: the migration that creates it, races between units of work, and relays
// in two connections pools (as two processes would be) on one file.
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <SQLiteCpp/SQLiteCpp.h>

#include "allocation/adapters/sqlite/sqlite.hpp"
#include "allocation/allocation.hpp"
#include "catch.hpp"
#include "outbox_rows.hpp"
#include "sqlite_files.hpp"

using namespace allocation;
using namespace std::chrono_literals;
using allocation::testing::count;
using allocation::testing::ids_of;
using allocation::testing::TempDir;

namespace {

void add_product(sqlite::Database& db, const std::string& sku, int qty) {
    auto uow = sqlite::UnitOfWorkFactory(db)();
    uow.products().add(Product(sku)).add_batch(Batch(sku + "-b1", sku, qty));
    uow.commit();
}

void allocate(sqlite::Database& db, const std::string& orderid, int qty) {
    testing::commit_allocation(sqlite::UnitOfWorkFactory(db), orderid, "LAMP", qty);
}

}  // namespace

TEST_CASE("sqlite outbox: a file of schema version 3 gets the outbox, and keeps its data") {
    TempDir dir;
    const auto path = dir.file("v3.db");
    {
        SQLite::Database raw(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
        raw.exec("PRAGMA journal_mode = WAL");
        for (int version = 0; version < 3; ++version) raw.exec(sqlite::detail::migrations[version]);
        raw.exec(R"sql(
            PRAGMA user_version = 3;
            INSERT INTO products VALUES ('LAMP', 1);
            INSERT INTO batches (id, reference, sku, purchased_quantity) VALUES (1, 'b1', 'LAMP', 10);
        )sql");
    }
    sqlite::Database db(sqlite::Options{path});
    CHECK(count(path, "PRAGMA user_version") == sqlite::schema_version);
    CHECK(count(path, "SELECT count(*) FROM outbox") == 0);
    allocate(db, "o1", 2);
    sqlite::Outbox outbox(db);
    const auto rows = outbox.undelivered(10);
    REQUIRE(rows.size() == 1);
    CHECK(rows[0].id == outbox_id("LAMP", 2, 0));
    CHECK(rows[0].event == events::Event{events::Allocated{"o1", "LAMP", 2, "b1"}});
    CHECK(count(path, "SELECT count(*) FROM outbox WHERE payload = '{\"orderid\":\"o1\",\"sku\":\"LAMP\",\"qty\":2,"
                      "\"batchref\":\"b1\"}' AND event_type = 'Allocated'") == 1);  // stored as the book's JSON
}

TEST_CASE("sqlite outbox: a commit that lost an optimistic race stores no row") {
    TempDir dir;
    sqlite::Database db(sqlite::Options{dir.file("allocation.db")});
    add_product(db, "LAMP", 10);
    auto first = sqlite::UnitOfWorkFactory(db)();
    auto second = sqlite::UnitOfWorkFactory(db)();
    first.products().get_for_order("LAMP", "o1")->allocate(OrderLine{"o1", "LAMP", 1});
    second.products().get_for_order("LAMP", "o2")->allocate(OrderLine{"o2", "LAMP", 1});
    first.commit();
    CHECK_THROWS_AS(second.commit(), ConcurrencyError);
    sqlite::Outbox outbox(db);
    const auto rows = outbox.undelivered(10);
    REQUIRE(rows.size() == 1);
    CHECK(std::get<events::Allocated>(rows[0].event).orderid == "o1");
}

TEST_CASE("sqlite outbox: an unchanged product's row takes the stored version, after the rows already there") {
    TempDir dir;
    sqlite::Database db(sqlite::Options{dir.file("allocation.db")});
    add_product(db, "LAMP", 2);
    auto stale = sqlite::UnitOfWorkFactory(db)();
    Product* lamp = stale.products().get_for_order("LAMP", "o9");
    CHECK_FALSE(lamp->allocate(OrderLine{"o9", "LAMP", 5}).has_value());  // OutOfStock, read at version 1
    allocate(db, "o1", 1);  // meanwhile: version 2, its row at position 0
    stale.commit();         // nothing changed, so no version check: the row goes after the others of version 2
    sqlite::Outbox outbox(db);
    CHECK(ids_of(outbox.undelivered(10)) == std::vector<std::string>{outbox_id("LAMP", 2, 0), outbox_id("LAMP", 2, 1)});
    CHECK(outbox.undelivered(10).back().event == events::Event{events::OutOfStock{"LAMP"}});
}

TEST_CASE("sqlite outbox: two relays on one file never take each other's rows") {
    TempDir dir;
    const auto path = dir.file("allocation.db");
    sqlite::Database db_a(sqlite::Options{path}), db_b(sqlite::Options{path});
    add_product(db_a, "LAMP", 100);
    for (int i = 0; i < 5; ++i) allocate(db_a, fmt::format("o{}", i), 1);
    sqlite::Outbox outbox_a(db_a), outbox_b(db_b);
    using Step = testing::TestRelay<sqlite::Outbox>::Step;
    const auto taken = testing::relays_taking_turns(outbox_a, outbox_b);
    CHECK(taken.steps == std::vector<Step>{Step{2, 0}, Step{2, 0}, Step{1, 0}, Step{0, 0}});
    CHECK(taken.by_a == std::vector<std::string>{outbox_id("LAMP", 2, 0), outbox_id("LAMP", 3, 0), outbox_id("LAMP", 6, 0)});
    CHECK(taken.by_b == std::vector<std::string>{outbox_id("LAMP", 4, 0), outbox_id("LAMP", 5, 0)});
    CHECK(count(path, "SELECT count(*) FROM outbox WHERE delivered_at IS NULL") == 0);
}

TEST_CASE("sqlite outbox: two relays on their threads deliver every row exactly once", "[threads]") {
    TempDir dir;
    const auto path = dir.file("allocation.db");
    sqlite::Database db_a(sqlite::Options{path}), db_b(sqlite::Options{path});
    add_product(db_a, "LAMP", 1000);
    constexpr int rows = 200;
    sqlite::Outbox outbox_a(db_a), outbox_b(db_b);
    const auto deliveries = testing::deliveries_by_two_relays(
        outbox_a, outbox_b, rows, [&](int i) { allocate(i % 2 == 0 ? db_a : db_b, fmt::format("o{}", i), 1); });
    CHECK(deliveries.size() == static_cast<std::size_t>(rows));
    for (const auto& [id, times] : deliveries) CHECK(times == 1);
    CHECK(outbox_a.backlog() == ports::OutboxBacklog{});
}

namespace {
/// A file with the product LAMP, its units of work and its outbox.
struct PurgeFixture {
    TempDir dir;
    std::string path = dir.file("purge.db");
    sqlite::Database db{sqlite::Options{path}};
    sqlite::UnitOfWorkFactory factory{db};
    sqlite::Outbox outbox{db};
    PurgeFixture() { add_product(db, "LAMP", 100); }
};
}  // namespace

TEST_CASE("sqlite outbox: the relay's maintenance purges delivered rows and processed ids older than the retention, "
          "keeping each product's newest row") {
    PurgeFixture f;
    add_product(f.db, "RUG", 100);
    for (int i = 0; i < 5; ++i) allocate(f.db, "o" + std::to_string(i), 1);  // LAMP v2 .. v6
    testing::commit_allocation(f.factory, "r1", "RUG", 1);                     // RUG v2
    {
        auto uow = f.factory();
        handlers::change_batch_quantity(commands::ChangeBatchQuantity{"RUG-b1", 50, "m1"}, uow);  // no outbound row
    }
    REQUIRE(count(f.path, "SELECT count(*) FROM outbox") == 6);
    REQUIRE(count(f.path, "SELECT count(*) FROM processed_messages") == 1);

    // The server's relay: handlers that take every row, and the purge with a retention of zero as maintenance.
    std::mutex mutex;
    std::condition_variable purged_cv;
    std::vector<Purged> purges;
    RelayOptions options = testing::past_handoff("relay", 64);  // nobody delivered the rows at once
    options.poll = 5ms;
    options.maintenance_every = 10ms;
    options.maintenance = [&] {
        // A retention of zero, on the relay's clock (past the handoff): what it delivered so far goes.
        const Purged purged = purge(f.outbox, f.factory, ports::OutboxClock::now() + outbox_handoff + 1ms);
        std::lock_guard lock(mutex);
        purges.push_back(purged);
        purged_cv.notify_all();
    };
    Relay relay(f.outbox, [](const ports::OutboxMessage&) {}, options);
    relay.start();
    {
        std::unique_lock lock(mutex);
        REQUIRE(purged_cv.wait_for(lock, 10s, [&] {
            return count(f.path, "SELECT count(*) FROM outbox") == 2 &&
                   count(f.path, "SELECT count(*) FROM processed_messages") == 0;
        }));
    }
    relay.stop();
    CHECK(f.outbox.backlog() == ports::OutboxBacklog{});
    // What stays: the newest row of each product, delivered.
    CHECK(count(f.path, "SELECT count(*) FROM outbox WHERE sku = 'LAMP' AND version_number = 6 "
                        "AND delivered_at IS NOT NULL") == 1);
    CHECK(count(f.path, "SELECT count(*) FROM outbox WHERE sku = 'RUG' AND version_number = 2 "
                        "AND delivered_at IS NOT NULL") == 1);
    std::size_t rows = 0, ids = 0;
    for (const Purged& p : purges) {
        rows += p.outbox_rows;
        ids += p.message_ids;
    }
    CHECK(rows == 4);
    CHECK(ids == 1);

    // Numbering goes on after the kept rows, and the purged message id is applied again if it comes again.
    allocate(f.db, "o9", 1);
    CHECK(ids_of(f.outbox.undelivered(10)) == std::vector<std::string>{outbox_id("LAMP", 7, 0)});
    {
        auto uow = f.factory();
        CHECK_FALSE(uow.messages().seen("m1"));
    }
}

TEST_CASE("sqlite outbox: a purge before any delivery, or with a retention not yet over, deletes nothing") {
    PurgeFixture f;
    allocate(f.db, "o1", 1);
    allocate(f.db, "o2", 1);
    CHECK(purge(f.outbox, f.factory, ports::OutboxClock::now() + 1h) == Purged{0, 0});  // nothing delivered
    const auto delivered_at = ports::OutboxClock::now() + outbox_handoff;
    f.outbox.mark_delivered(ids_of(f.outbox.claim("relay", delivered_at, delivered_at + 1s, 10)), delivered_at);
    CHECK(purge(f.outbox, f.factory, delivered_at - 1h) == Purged{0, 0});  // delivered within the retention
    CHECK(count(f.path, "SELECT count(*) FROM outbox") == 2);
    CHECK(purge(f.outbox, f.factory, delivered_at + 1h) == Purged{1, 0});  // all but LAMP's newest
    CHECK(count(f.path, "SELECT count(*) FROM outbox") == 1);
}

TEST_CASE("sqlite outbox: delivery marks take no write transaction of their own: they ride with the next commit") {
    PurgeFixture f;
    allocate(f.db, "o1", 1);
    const auto delivered = ids_of(f.outbox.undelivered(10));
    REQUIRE(delivered.size() == 1);
    const auto undelivered_on_file = [&] {
        return count(f.path, "SELECT count(*) FROM outbox WHERE delivered_at IS NULL");
    };
    f.outbox.mark_delivered(delivered, ports::OutboxClock::now());
    CHECK(undelivered_on_file() == 1);  // held in memory: nothing written yet
    allocate(f.db, "o2", 1);            // the next commit writes it, with its own row
    CHECK(undelivered_on_file() == 1);
    CHECK(count(f.path, "SELECT count(*) FROM outbox WHERE delivered_at IS NOT NULL AND version_number = 2") == 1);

    f.outbox.mark_delivered(ids_of(f.outbox.undelivered(10)), ports::OutboxClock::now());
    CHECK(f.outbox.backlog() == ports::OutboxBacklog{});  // a count writes what is held first
    CHECK(undelivered_on_file() == 0);
}

TEST_CASE("sqlite outbox: a commit that fails keeps the delivery marks it took for the next write") {
    PurgeFixture f;
    allocate(f.db, "o1", 1);
    f.outbox.mark_delivered(ids_of(f.outbox.undelivered(10)), ports::OutboxClock::now());
    auto first = f.factory();
    auto second = f.factory();
    first.products().get_for_order("LAMP", "o2")->allocate(OrderLine{"o2", "LAMP", 1});
    second.products().get_for_order("LAMP", "o3")->allocate(OrderLine{"o3", "LAMP", 1});
    first.commit();  // writes the mark
    f.outbox.mark_delivered(ids_of(first.collect_outbox()), ports::OutboxClock::now());
    CHECK_THROWS_AS(second.commit(), ConcurrencyError);  // took o2's mark, lost the race: the mark goes back
    CHECK(count(f.path, "SELECT count(*) FROM outbox WHERE delivered_at IS NULL") == 1);
    f.outbox.flush();
    CHECK(count(f.path, "SELECT count(*) FROM outbox WHERE delivered_at IS NULL") == 0);
}

TEST_CASE("sqlite outbox: the relay's destruction writes the marks it left in memory") {
    PurgeFixture f;
    allocate(f.db, "o1", 1);
    std::vector<ports::OutboxMessage> rows;
    {
        auto uow = f.factory();
        uow.products().get_for_order("LAMP", "o2")->allocate(OrderLine{"o2", "LAMP", 1});
        uow.commit();
        rows = uow.collect_outbox();
    }
    {
        Relay relay(f.outbox, [](const ports::OutboxMessage&) {});
        relay.deliver(rows);
        CHECK(count(f.path, "SELECT count(*) FROM outbox WHERE delivered_at IS NULL") == 2);
    }
    CHECK(count(f.path, "SELECT count(*) FROM outbox WHERE delivered_at IS NULL") == 1);  // o1 nobody delivered
}
