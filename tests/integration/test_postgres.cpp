// The PostgreSQL adapter against a real server that the test starts: units of work on one product queueing on its
// row lock on real threads (through one Database or two), the conflicts that remain (two creators of one product, a
// deadlock PostgreSQL breaks), relays on two Database instances, migrations started together, a newer schema, an
// outage, and lookups whose cost does not grow with history.
#include <atomic>
#include <barrier>
#include <chrono>
#include <mutex>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include <pqxx/pqxx>

#include "allocation/adapters/memory/memory.hpp"
#include "allocation/adapters/postgres/postgres.hpp"
#include "allocation/allocation.hpp"
#include "catch.hpp"
#include "outbox_rows.hpp"
#include "postgres_cluster.hpp"
#include "recording_delivery.hpp"

using namespace allocation;
using namespace std::chrono_literals;
using allocation::testing::PostgresCluster;

namespace {

/// The test's cluster, started on first use (each test case runs in a process of its own).
PostgresCluster& cluster() {
    static PostgresCluster instance;
    return instance;
}

/// A fresh, empty database of the cluster.
std::string fresh_database() {
    static int databases = 0;
    return cluster().create_database(fmt::format("test_{}", databases++));
}

std::string database_of(const std::string& uri) { return uri.substr(uri.rfind('/') + 1); }

/// One number that `sql` selects.
long long number(const std::string& uri, const std::string& sql) { return std::stoll(cluster().sql(sql, database_of(uri))); }

void add_product(postgres::Database& db, const std::string& sku, int qty) {
    auto uow = postgres::UnitOfWorkFactory(db)();
    uow.products().add(Product(sku)).add_batch(Batch(sku + "-b1", sku, qty));
    uow.commit();
}

/// Whether some session of the cluster came to wait for a lock (a row another transaction holds).
bool someone_waits_for_a_lock() {
    return testing::wait_until(
        [] { return cluster().sql("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'") != "0\n"; },
        60s);
}

/// How the buses answered lines of 1.
struct Answers {
    std::atomic<int> allocated{0};
    std::atomic<int> out_of_stock{0};
    std::atomic<int> lost_races{0};  // ConcurrencyError
    std::mutex mutex;
    std::vector<std::string> errors;  // anything else
};

/// `requests` Allocate commands of 1 `sku` (orders o0, o1...) from 16 threads, 8 through a bus over each of two
/// Database instances on the database `uri`. Each bus tries a message once: a lost race is not hidden by a retry.
void allocate_through_two_databases(const std::string& uri, const std::string& sku, int requests, Answers& answers) {
    postgres::Database db_a(postgres::Options{uri}), db_b(postgres::Options{uri});
    postgres::Outbox outbox_a(db_a), outbox_b(db_b);
    testing::RecordingDelivery delivery_a(outbox_a), delivery_b(outbox_b);
    BusOptions options;
    options.max_attempts = 1;
    auto bus_a = bootstrap(postgres::UnitOfWorkFactory(db_a), delivery_a.relay, options);
    auto bus_b = bootstrap(postgres::UnitOfWorkFactory(db_b), delivery_b.relay, options);
    constexpr int threads = 16;
    std::barrier start(threads);
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
        workers.emplace_back([&, t] {
            auto& bus = t % 2 == 0 ? bus_a : bus_b;
            start.arrive_and_wait();
            for (int i = t; i < requests; i += threads) {
                try {
                    const auto batch = bus.handle(commands::Allocate{fmt::format("o{}", i), sku, 1});
                    ++(batch ? answers.allocated : answers.out_of_stock);
                } catch (const ConcurrencyError&) {
                    ++answers.lost_races;
                } catch (const std::exception& e) {
                    std::lock_guard lock(answers.mutex);
                    answers.errors.emplace_back(e.what());
                }
            }
        });
    }
    for (auto& worker : workers) worker.join();
}

}  // namespace

TEST_CASE("postgres: a new database gets the current schema version and every table") {
    const auto uri = fresh_database();
    postgres::Database db(postgres::Options{uri});
    CHECK(number(uri, "SELECT version FROM schema_version") == postgres::schema_version);
    CHECK(number(uri, "SELECT count(*) FROM schema_version") == 1);
    CHECK(number(uri, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename IN ('products', "
                      "'batches', 'order_lines', 'waiting_lines', 'allocations_view', 'outbox', 'processed_messages')") ==
          7);
    db.check();
    postgres::Database again(postgres::Options{uri});  // an up-to-date schema is left as it is
    CHECK(number(uri, "SELECT count(*) FROM schema_version") == 1);
}

TEST_CASE("postgres: several Database instances starting together on an empty database", "[threads]") {
    const auto uri = fresh_database();
    constexpr int instances = 6;
    std::barrier start(instances);
    std::atomic<int> opened{0};
    std::vector<std::string> errors(instances);
    std::vector<std::thread> threads;
    for (int i = 0; i < instances; ++i) {
        threads.emplace_back([&, i] {
            start.arrive_and_wait();
            try {
                postgres::Database db(postgres::Options{uri});
                add_product(db, fmt::format("SKU-{}", i), 10);
                ++opened;
            } catch (const std::exception& e) {
                errors[i] = e.what();
            }
        });
    }
    for (auto& thread : threads) thread.join();
    for (const auto& error : errors) CHECK(error.empty());
    CHECK(opened == instances);
    CHECK(number(uri, "SELECT version FROM schema_version") == postgres::schema_version);
    CHECK(number(uri, "SELECT count(*) FROM schema_version") == 1);
    CHECK(number(uri, "SELECT count(*) FROM products") == instances);
}

TEST_CASE("postgres: a database with a newer schema is refused with a clear message, and left as it is") {
    const auto uri = fresh_database();
    std::optional<postgres::Database> running;
    running.emplace(postgres::Options{uri});
    cluster().sql("UPDATE schema_version SET version = 99", database_of(uri));
    const auto newer = Catch::Contains("schema version 99 is newer than the newest this library supports (" +
                                       std::to_string(postgres::schema_version) + ")");
    CHECK_THROWS_WITH(running->check(), newer);
    CHECK_THROWS_AS(postgres::Database(postgres::Options{uri}), StorageError);
    CHECK_THROWS_WITH(postgres::Database(postgres::Options{uri}), newer && Catch::Contains(uri));
    CHECK(number(uri, "SELECT version FROM schema_version") == 99);
}

TEST_CASE("postgres: an unreachable server is a StorageError naming it, without its password") {
    PostgresCluster stopped;
    const int port = stopped.port();
    stopped.stop();
    const std::string uri = fmt::format("postgresql://postgres:secret@127.0.0.1:{}/allocation", port);
    CHECK_THROWS_AS(postgres::Database(postgres::Options{uri, 2s}), StorageError);
    CHECK_THROWS_WITH(postgres::Database(postgres::Options{uri, 2s}),
                      Catch::Contains(fmt::format("postgresql://postgres:***@127.0.0.1:{}/allocation", port)) &&
                          Catch::Contains("cannot connect") && !Catch::Contains("secret"));
}

// The book's test (test_concurrent_updates_to_version_are_not_allowed), with the lock of its chapter 7: the
// second unit of work does not lose a race, it waits for the first one's commit and reads what it left.
TEST_CASE("postgres: a unit of work that wants a product another one holds waits for its commit, then reads it",
          "[threads]") {
    const auto uri = fresh_database();
    postgres::Database db(postgres::Options{uri});
    add_product(db, "LAMP", 100);
    const auto before = number(uri, "SELECT version_number FROM products WHERE sku = 'LAMP'");
    const std::string how = GENERATE(as<std::string>{}, "get", "get_for_order", "get_by_batchref");
    INFO("the first unit of work looks the product up with " << how);

    auto first = postgres::UnitOfWorkFactory(db)();
    Product* held = how == "get"             ? first.products().get("LAMP")
                    : how == "get_for_order" ? first.products().get_for_order("LAMP", "o1")
                                             : first.products().get_by_batchref("LAMP-b1");
    REQUIRE(held != nullptr);
    held->allocate(OrderLine{"o1", "LAMP", 10});

    std::atomic<bool> second_read{false};
    std::int64_t read_version = 0;
    std::string second_error;
    std::thread second([&] {
        try {
            auto uow = postgres::UnitOfWorkFactory(db)();
            Product* lamp = uow.products().get_for_order("LAMP", "o2");
            read_version = lamp->version_number();
            second_read = true;
            lamp->allocate(OrderLine{"o2", "LAMP", 10});
            uow.commit();
        } catch (const std::exception& e) {
            second_error = e.what();
        }
    });
    const bool waited = someone_waits_for_a_lock();
    const bool read_before_commit = second_read;
    first.commit();
    second.join();

    CHECK(waited);
    CHECK_FALSE(read_before_commit);
    CHECK(second_error.empty());
    CHECK(read_version == before + 1);  // the first one's commit
    CHECK(number(uri, "SELECT version_number FROM products WHERE sku = 'LAMP'") == before + 2);
    CHECK(number(uri, "SELECT count(*) FROM order_lines") == 2);
    CHECK(number(uri, "SELECT allocated_quantity FROM batches WHERE reference = 'LAMP-b1'") == 20);
    CHECK(number(uri, "SELECT count(*) FROM outbox") == 2);
}

// The connection's cache hands a product out again after checking its version: that check locks the row too, or
// a product kept from before the other commit would be handed out, and its commit would lose the race.
TEST_CASE("postgres: a product kept by the connection's cache waits for the lock too, then is read afresh",
          "[threads]") {
    const auto uri = fresh_database();
    postgres::Database db_kept(postgres::Options{uri}), db_other(postgres::Options{uri});
    add_product(db_kept, "LAMP", 100);

    std::atomic<bool> kept{false}, go{false};
    std::string error;
    bool allocated = false;
    std::optional<Quantity> allocated_seen;
    std::thread keeper([&] {  // one thread, one connection of db_kept: its cache keeps LAMP between the two
        try {
            {
                auto uow = postgres::UnitOfWorkFactory(db_kept)();
                uow.products().get("LAMP");
            }
            kept = true;
            while (!go) std::this_thread::sleep_for(1ms);
            allocated = testing::commit_allocation(postgres::UnitOfWorkFactory(db_kept), "o2", "LAMP", 10);
            auto uow = postgres::UnitOfWorkFactory(db_kept)();
            allocated_seen = uow.products().get("LAMP")->batch("LAMP-b1")->allocated_quantity();
        } catch (const std::exception& e) {
            error = e.what();
        }
    });
    while (!kept) std::this_thread::sleep_for(1ms);
    auto holder = postgres::UnitOfWorkFactory(db_other)();
    holder.products().get_for_order("LAMP", "o1")->allocate(OrderLine{"o1", "LAMP", 10});
    go = true;
    const bool waited = someone_waits_for_a_lock();
    holder.commit();
    keeper.join();

    CHECK(waited);
    CHECK(error.empty());
    CHECK(allocated);
    CHECK(allocated_seen == std::optional<Quantity>(20));
    CHECK(number(uri, "SELECT allocated_quantity FROM batches WHERE reference = 'LAMP-b1'") == 20);
    CHECK(number(uri, "SELECT version_number FROM products WHERE sku = 'LAMP'") == 3);
}

TEST_CASE("postgres: 16 threads on two Database instances allocating one product all succeed, none refused",
          "[threads]") {
    const auto uri = fresh_database();
    {
        postgres::Database db(postgres::Options{uri});
        add_product(db, "LAMP", 1000);
    }
    constexpr int requests = 400;
    Answers answers;
    allocate_through_two_databases(uri, "LAMP", requests, answers);

    CHECK(answers.errors == std::vector<std::string>{});
    CHECK(answers.lost_races == 0);
    CHECK(answers.allocated == requests);
    CHECK(answers.out_of_stock == 0);
    CHECK(number(uri, "SELECT allocated_quantity FROM batches WHERE reference = 'LAMP-b1'") == requests);
    CHECK(number(uri, "SELECT count(*) FROM order_lines") == requests);
    CHECK(number(uri, "SELECT count(*) FROM allocations_view") == requests);
    CHECK(number(uri, "SELECT version_number FROM products WHERE sku = 'LAMP'") == 1 + requests);
}

TEST_CASE("postgres: 16 threads on two Database instances allocating more than the stock: exactly the stock goes, "
          "the rest is out of stock, none refused",
          "[threads]") {
    const auto uri = fresh_database();
    {
        postgres::Database db(postgres::Options{uri});
        add_product(db, "LAMP", 100);
    }
    constexpr int requests = 400;
    Answers answers;
    allocate_through_two_databases(uri, "LAMP", requests, answers);

    CHECK(answers.errors == std::vector<std::string>{});
    CHECK(answers.lost_races == 0);
    CHECK(answers.allocated == 100);
    CHECK(answers.out_of_stock == requests - 100);
    CHECK(number(uri, "SELECT allocated_quantity FROM batches WHERE reference = 'LAMP-b1'") == 100);
    CHECK(number(uri, "SELECT count(*) FROM order_lines") == 100);
    CHECK(number(uri, "SELECT count(*) FROM allocations_view") == 100);
    CHECK(number(uri, "SELECT count(*) FROM outbox WHERE event_type = 'OutOfStock'") == requests - 100);
}

// A product not stored yet has no row to lock: a real conflict, refused at commit.
TEST_CASE("postgres: two units of work creating one new product: the second commit is refused, nothing of it written") {
    const auto uri = fresh_database();
    postgres::Database db(postgres::Options{uri});
    auto first = postgres::UnitOfWorkFactory(db)();
    auto second = postgres::UnitOfWorkFactory(db)();
    CHECK(first.products().get("NEW") == nullptr);
    CHECK(second.products().get("NEW") == nullptr);  // no row: nothing locked, nothing waited for
    first.products().add(Product("NEW")).add_batch(Batch("NEW-b1", "NEW", 10));
    second.products().add(Product("NEW")).add_batch(Batch("NEW-b2", "NEW", 10));
    first.commit();
    std::optional<std::string> refused;
    try {
        second.commit();
    } catch (const ConcurrencyError& e) {
        refused = e.what();
    }
    REQUIRE(refused.has_value());
    CHECK_THAT(*refused, Catch::Contains("Product NEW was created by someone else meanwhile"));
    CHECK(number(uri, "SELECT count(*) FROM products") == 1);
    CHECK(number(uri, "SELECT count(*) FROM batches WHERE reference = 'NEW-b1'") == 1);
    CHECK(number(uri, "SELECT count(*) FROM batches") == 1);
}

TEST_CASE("postgres: many threads through one bus never oversell, lose or double an allocation", "[threads]") {
    const auto uri = fresh_database();
    postgres::Database db(postgres::Options{uri});
    postgres::Outbox outbox(db);
    testing::RecordingDelivery delivery(outbox);
    BusOptions options;
    options.max_attempts = 1000;
    auto bus = bootstrap(postgres::UnitOfWorkFactory(db), delivery.relay, options);
    bus.handle(commands::CreateBatch{"b1", "LAMP", 50, std::nullopt});
    constexpr int threads = 4, per_thread = 20;
    std::atomic<int> allocated{0};
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
        workers.emplace_back([&, t] {
            for (int i = 0; i < per_thread; ++i) {
                if (bus.handle(commands::Allocate{fmt::format("o{}-{}", t, i), "LAMP", 1})) ++allocated;
            }
        });
    }
    for (auto& worker : workers) worker.join();
    CHECK(allocated == 50);
    CHECK(number(uri, "SELECT count(*) FROM order_lines") == 50);
    CHECK(number(uri, "SELECT allocated_quantity FROM batches WHERE reference = 'b1'") == 50);
    CHECK(number(uri, "SELECT count(*) FROM allocations_view") == 50);
    CHECK(number(uri, "SELECT version_number FROM products WHERE sku = 'LAMP'") == 51);
    CHECK(db.connections() <= threads + 1);  // one connection per thread, kept from one unit of work to the next
}

TEST_CASE("postgres: two products locked in opposite orders: PostgreSQL breaks the deadlock with a ConcurrencyError, "
          "and nothing is written",
          "[threads]") {
    const auto uri = fresh_database();
    postgres::Database db(postgres::Options{uri});
    add_product(db, "LAMP", 10);
    add_product(db, "DESK", 10);
    // Another program locks DESK first, then waits for LAMP, which the unit of work below holds while it waits for
    // DESK. That program waits longer before it looks for a deadlock, so the unit of work is the one PostgreSQL
    // aborts.
    pqxx::connection other(uri);
    pqxx::work locker(other);
    locker.exec("SET LOCAL deadlock_timeout = '20s'");
    locker.exec("SELECT 1 FROM products WHERE sku = 'DESK' FOR UPDATE");

    std::optional<std::string> error;
    bool other_error = false;
    std::thread worker([&] {
        try {
            auto uow = postgres::UnitOfWorkFactory(db)();
            uow.products().get_for_order("LAMP", "o1")->allocate(OrderLine{"o1", "LAMP", 1});
            uow.products().get_for_order("DESK", "o1")->allocate(OrderLine{"o1", "DESK", 1});
            uow.commit();
        } catch (const ConcurrencyError& e) {
            error = e.what();
        } catch (const std::exception&) {
            other_error = true;
        }
    });
    // Once the unit of work waits for DESK, this transaction asks for LAMP, which the unit of work holds.
    const bool waited = someone_waits_for_a_lock();
    locker.exec("SELECT 1 FROM products WHERE sku = 'LAMP' FOR UPDATE");  // free once the unit of work is aborted
    worker.join();
    locker.abort();

    CHECK(waited);
    CHECK_FALSE(other_error);
    REQUIRE(error.has_value());
    CHECK_THAT(*error, Catch::Contains("deadlock detected"));
    CHECK(number(uri, "SELECT count(*) FROM order_lines") == 0);
    CHECK(number(uri, "SELECT max(version_number) FROM products") == 1);
}

TEST_CASE("postgres: serialization failures and deadlocks are lost races, other errors StorageError") {
    auto fail_with = [](const char* sqlstate) {
        return [sqlstate] { throw pqxx::sql_error("refused", "UPDATE products", sqlstate); };
    };
    bool dropped = false;
    auto drop = [&] { dropped = true; };
    CHECK_THROWS_AS(postgres::detail::translated("db", "committing", drop, fail_with("40001")), ConcurrencyError);
    CHECK_THROWS_AS(postgres::detail::translated("db", "committing", drop, fail_with("40P01")), ConcurrencyError);
    CHECK_FALSE(dropped);
    CHECK_THROWS_AS(postgres::detail::translated("db", "committing", drop, fail_with("42P01")), StorageError);
    CHECK_THROWS_WITH(postgres::detail::translated("db", "committing", drop, fail_with("42P01")),
                      "PostgreSQL database db: committing: refused");
    CHECK_THROWS_AS(postgres::detail::translated("db", "committing", drop,
                                                 [] { throw pqxx::in_doubt_error("connection lost during COMMIT"); }),
                    postgres::CommitOutcomeUnknown);
    CHECK(dropped);
}

TEST_CASE("postgres: while the server is down a unit of work is a StorageError, and once it is back the next one works") {
    const auto uri = fresh_database();
    postgres::Database db(postgres::Options{uri, 2s});
    add_product(db, "LAMP", 100);
    auto factory = postgres::UnitOfWorkFactory(db);
    auto open = factory();  // holds a connection across the outage
    open.products().get_for_order("LAMP", "o1")->allocate(OrderLine{"o1", "LAMP", 1});

    cluster().stop();
    CHECK_THROWS_AS(open.commit(), StorageError);
    CHECK_THROWS_AS(testing::commit_allocation(factory, "o2", "LAMP", 1), StorageError);
    CHECK_THROWS_WITH(db.check(), Catch::Contains(uri));

    cluster().start();
    CHECK(testing::commit_allocation(factory, "o3", "LAMP", 1));
    db.check();
    CHECK(postgres::AllocationsView(db).allocations("o3") == std::vector<ports::AllocationRow>{{"LAMP", "LAMP-b1"}});
    CHECK(number(uri, "SELECT count(*) FROM order_lines") == 1);
}

TEST_CASE("postgres: a lookup reads only the lines of the order at hand, however long the history") {
    const auto uri = fresh_database();
    {
        postgres::Database db(postgres::Options{uri});
        add_product(db, "LAMP", 100000);
        for (int i = 0; i < 10; ++i) {
            auto uow = postgres::UnitOfWorkFactory(db)();
            Product* lamp = uow.products().get("LAMP");
            for (int j = 0; j < 100; ++j) lamp->allocate(OrderLine{fmt::format("o{}", i * 100 + j), "LAMP", 1});
            uow.commit();
        }
    }
    postgres::Database db(postgres::Options{uri});  // no product kept from the commits above
    auto uow = postgres::UnitOfWorkFactory(db)();
    Product* lamp = uow.products().get_for_order("LAMP", "o517");
    REQUIRE(lamp != nullptr);
    const Batch& batch = *lamp->batch("LAMP-b1");
    CHECK(batch.allocated_quantity() == 1000);
    CHECK(std::vector<OrderLine>(batch.allocations().begin(), batch.allocations().end()) ==
          std::vector<OrderLine>{{"o517", "LAMP", 1}});
    CHECK_FALSE(batch.all_lines_loaded());
    CHECK(lamp->allocate(OrderLine{"o517", "LAMP", 1}) == std::optional<std::string>("LAMP-b1"));  // already there
    CHECK_FALSE(lamp->changed());

    // The lines of one order are found by the order's index, not by reading the product's history.
    const std::string plan = cluster().sql(
        "ANALYZE order_lines; EXPLAIN SELECT l.id FROM order_lines l WHERE l.orderid = ANY ('{o517}'::text[]) "
        "AND l.sku = 'LAMP'",
        database_of(uri));
    CHECK_THAT(plan, Catch::Contains("order_lines_pkey") && !Catch::Contains("Seq Scan"));
}

TEST_CASE("postgres outbox: two relays on two Database instances never take each other's rows") {
    const auto uri = fresh_database();
    postgres::Database db_a(postgres::Options{uri}), db_b(postgres::Options{uri});
    add_product(db_a, "LAMP", 100);
    for (int i = 0; i < 5; ++i) {
        testing::commit_allocation(postgres::UnitOfWorkFactory(db_a), fmt::format("o{}", i), "LAMP", 1);
    }
    postgres::Outbox outbox_a(db_a), outbox_b(db_b);
    using Step = testing::TestRelay<postgres::Outbox>::Step;
    const auto taken = testing::relays_taking_turns(outbox_a, outbox_b);
    CHECK(taken.steps == std::vector<Step>{Step{2, 0}, Step{2, 0}, Step{1, 0}, Step{0, 0}});
    CHECK(taken.by_a == std::vector<std::string>{outbox_id("LAMP", 2, 0), outbox_id("LAMP", 3, 0), outbox_id("LAMP", 6, 0)});
    CHECK(taken.by_b == std::vector<std::string>{outbox_id("LAMP", 4, 0), outbox_id("LAMP", 5, 0)});
    CHECK(number(uri, "SELECT count(*) FROM outbox WHERE delivered_at IS NULL") == 0);
}

TEST_CASE("postgres outbox: two relays on their threads and two Database instances deliver every row once",
          "[threads]") {
    const auto uri = fresh_database();
    postgres::Database db_a(postgres::Options{uri}), db_b(postgres::Options{uri});
    add_product(db_a, "LAMP", 1000);
    constexpr int rows = 200;
    postgres::Outbox outbox_a(db_a), outbox_b(db_b);
    const auto deliveries = testing::deliveries_by_two_relays(outbox_a, outbox_b, rows, [&](int i) {
        testing::commit_allocation(postgres::UnitOfWorkFactory(i % 2 == 0 ? db_a : db_b), fmt::format("o{}", i), "LAMP", 1);
    });
    CHECK(deliveries.size() == static_cast<std::size_t>(rows));
    for (const auto& [id, times] : deliveries) CHECK(times == 1);
    CHECK(outbox_a.backlog() == ports::OutboxBacklog{});
    CHECK(number(uri, "SELECT count(*) FROM outbox WHERE delivered_at IS NULL") == 0);
}

TEST_CASE("postgres: one commit that moves lines between batches and the waiting lines stores where they ended") {
    const auto uri = fresh_database();
    postgres::Database db(postgres::Options{uri});
    {
        auto uow = postgres::UnitOfWorkFactory(db)();
        Product& lamp = uow.products().add(Product("LAMP"));
        lamp.add_batch(Batch("LAMP-b1", "LAMP", 10));
        lamp.add_batch(Batch("LAMP-b2", "LAMP", 10, allocation::parse_date("2030-01-01")));
        uow.commit();
    }
    auto text = [&](const std::string& sql) { return cluster().sql(sql, database_of(uri)); };
    const std::string batch_of_o1 =
        "SELECT b.reference FROM order_lines l JOIN batches b ON b.id = l.batch_id WHERE l.orderid = 'o1'";
    {  // allocated, then moved to another batch before anything is stored
        auto uow = postgres::UnitOfWorkFactory(db)();
        Product* lamp = uow.products().get_for_order("LAMP", "o1");
        REQUIRE(lamp->allocate(OrderLine{"o1", "LAMP", 5}) == "LAMP-b1");
        lamp->change_batch_quantity("LAMP-b1", 2);
        uow.commit();
    }
    CHECK(text(batch_of_o1) == "LAMP-b2\n");
    CHECK(text("SELECT batchref FROM allocations_view WHERE orderid = 'o1'") == "LAMP-b2\n");
    CHECK(number(uri, "SELECT allocated_quantity FROM batches WHERE reference = 'LAMP-b1'") == 0);
    CHECK(number(uri, "SELECT allocated_quantity FROM batches WHERE reference = 'LAMP-b2'") == 5);
    {  // a stored line goes to the waiting lines, then to a batch added in the same commit
        auto uow = postgres::UnitOfWorkFactory(db)();
        Product* lamp = uow.products().get_by_batchref("LAMP-b2");
        lamp->change_batch_quantity("LAMP-b2", 2);
        REQUIRE(lamp->waiting().size() == 1);
        lamp->add_batch(Batch("LAMP-b3", "LAMP", 10));
        REQUIRE(lamp->waiting().empty());
        uow.commit();
    }
    CHECK(text(batch_of_o1) == "LAMP-b3\n");
    CHECK(text("SELECT batchref FROM allocations_view WHERE orderid = 'o1'") == "LAMP-b3\n");
    CHECK(number(uri, "SELECT count(*) FROM order_lines") == 1);
    CHECK(number(uri, "SELECT count(*) FROM waiting_lines") == 0);
    CHECK(number(uri, "SELECT allocated_quantity FROM batches WHERE reference = 'LAMP-b2'") == 0);
    CHECK(number(uri, "SELECT allocated_quantity FROM batches WHERE reference = 'LAMP-b3'") == 5);
}

TEST_CASE("postgres: a commit's rows: a version that moved is a ConcurrencyError, a line that clashes a StorageError") {
    const auto uri = fresh_database();
    postgres::Database db(postgres::Options{uri});
    add_product(db, "LAMP", 10);
    const auto batch_id = number(uri, "SELECT id FROM batches");
    postgres::detail::Connection connection(uri);
    const std::string where = "test";
    {  // the row lock keeps a unit of work from seeing this: the product read at a version that is not stored
        pqxx::work tx(connection.db);
        postgres::detail::PendingRows rows(tx, where);
        rows.version(Product("LAMP", {}, 7));
        rows.line(OrderLine{"o1", "LAMP", 1}, batch_id);
        rows.fail("a deletion found no row");
        CHECK_THROWS_AS(rows.write(), ConcurrencyError);
    }
    {
        pqxx::work tx(connection.db);
        postgres::detail::PendingRows rows(tx, where);
        rows.version(Product("LAMP", {}, 7));
        CHECK_THROWS_WITH(rows.write(), Catch::Contains("Product LAMP was changed by someone else since version 7"));
    }
    CHECK(number(uri, "SELECT count(*) FROM order_lines") == 0);
    {
        pqxx::work tx(connection.db);
        postgres::detail::PendingRows rows(tx, where);
        rows.line(OrderLine{"o1", "LAMP", 1}, batch_id);
        rows.line(OrderLine{"o1", "LAMP", 2}, batch_id);
        CHECK_THROWS_AS(rows.write(), StorageError);
    }
    {
        pqxx::work tx(connection.db);
        postgres::detail::PendingRows rows(tx, where);
        rows.fail("a deletion found no row");
        CHECK_THROWS_WITH(rows.write(), "a deletion found no row");
    }
}

TEST_CASE("postgres: a connection makes its plans again once they are 10 s old, not before") {
    const auto uri = fresh_database();
    postgres::Database migrate(postgres::Options{uri});
    postgres::detail::Connection connection(uri);
    auto exec = [&](const std::string& sql) {
        pqxx::nontransaction tx(connection.db);
        std::string text;
        for (const auto& row : tx.exec(sql)) text += row[0].c_str() + std::string("\n");
        return text;
    };
    // The plan the connection holds for the lookup: a generic plan, made on its first run and then reused.
    auto cached_plan = [&] { return exec("EXPLAIN EXECUTE allocation_select_product('LAMP', '{o1}')"); };
    {
        pqxx::nontransaction tx(connection.db);  // libpqxx sends the statement to the server on its first run
        postgres::detail::run(tx, postgres::detail::sql::select_product, std::string("LAMP"), std::string("{o1}"));
    }
    INFO(cached_plan());
    CHECK_THAT(cached_plan(), Catch::Contains("order_lines_pkey"));
    // Settings the planner reads but whose change keeps the plans: only a new plan shows them, as one made for a
    // table that has grown since would show its new size.
    exec("SET enable_indexscan = off");
    exec("SET enable_bitmapscan = off");
    const auto start = connection.planned_at;
    connection.refresh_plans(start + 5s);
    CHECK_THAT(cached_plan(), Catch::Contains("order_lines_pkey"));  // not due yet
    connection.refresh_plans(start + 11s);
    CHECK_THAT(cached_plan(), Catch::Contains("Seq Scan on order_lines") && !Catch::Contains("order_lines_pkey"));
    CHECK_FALSE(connection.broken);

    cluster().stop();
    connection.refresh_plans(start + 30s);
    CHECK(connection.broken);  // the pool drops it; the next caller opens a new one
    cluster().start();
}
