// The SQLite adapter against real files, threads and processes: durability, rollback, races, bad input.
#include <atomic>
#include <barrier>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <span>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

// Ids are built with fmt::format: g++ 12 at -O2 reports a bogus -Wrestrict on "o" + std::to_string(i)
// (GCC PR 105651), which -Werror turns into a failed optimised build.
#include <fmt/format.h>

#include <SQLiteCpp/SQLiteCpp.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include "allocation/adapters/memory/recording.hpp"
#include "recording_delivery.hpp"
#include "allocation/adapters/sqlite/sqlite.hpp"
#include "allocation/allocation.hpp"
#include "catch.hpp"
#include "sqlite_files.hpp"

extern char** environ;

using namespace allocation;
using allocation::testing::count;
using allocation::testing::TempDir;
namespace fs = std::filesystem;

namespace {

Date day(int d) { return std::chrono::year{2027} / std::chrono::January / d; }

std::string read_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const std::string& path, const std::string& bytes) {
    std::ofstream out(path, std::ios::binary);
    out << bytes;
}

/// A bus over one database, whose commits' outbox rows go to a recording notifier and publisher.
struct System {
    explicit System(const std::string& path, BusOptions options = {}) : System(sqlite::Options{path}, std::move(options)) {}
    explicit System(sqlite::Options db_options, BusOptions options = {})
        : db(std::move(db_options)), view(db), bus(bootstrap(sqlite::UnitOfWorkFactory(db), delivery.relay, std::move(options))) {}
    sqlite::Database db;
    sqlite::AllocationsView view;
    sqlite::Outbox outbox{db};
    testing::RecordingDelivery<sqlite::Outbox> delivery{outbox};
    memory::RecordingNotifier& notifier = delivery.notifier;
    memory::RecordingPublisher& publisher = delivery.publisher;
    MessageBus<sqlite::UnitOfWorkFactory, decltype(delivery.relay)> bus;

    sqlite::UnitOfWorkFactory factory() { return sqlite::UnitOfWorkFactory(db); }
};

/// The committed state of a product, read by a fresh Database (so nothing cached can answer), all lines loaded.
Product stored_product(const std::string& path, const std::string& sku) {
    sqlite::Database db(sqlite::Options{path});
    auto uow = sqlite::UnitOfWorkFactory(db)();
    Product* product = uow.products().get(sku);
    REQUIRE(product != nullptr);
    std::vector<std::string> refs;
    for (const Batch& b : product->batches()) refs.push_back(b.reference());
    for (const auto& ref : refs) product = uow.products().get_by_batchref(ref);
    return *product;
}

}  // namespace

TEST_CASE("sqlite: a new file gets the current schema version, WAL and every table") {
    TempDir dir;
    const auto path = dir.file("allocation.db");
    { sqlite::Database db(sqlite::Options{path}); }
    SQLite::Database raw(path, SQLite::OPEN_READONLY);
    CHECK(raw.execAndGet("PRAGMA user_version").getInt() == sqlite::schema_version);
    CHECK(raw.execAndGet("PRAGMA journal_mode").getString() == "wal");
    for (const char* table : {"products", "batches", "order_lines", "allocations", "allocations_view"}) {
        CHECK(raw.tableExists(table));
    }
    CHECK(raw.execAndGet("SELECT count(*) FROM sqlite_schema WHERE type = 'view' AND name = 'batch_stock'").getInt() == 1);
}

TEST_CASE("sqlite: a database of schema version 1 keeps its allocations and quantities when migrated") {
    TempDir dir;
    const auto path = dir.file("v1.db");
    {
        // Version 1 kept a batch's allocated quantity in a batch column. The ids 2 are gaps: a line that was
        // deallocated.
        SQLite::Database raw(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
        raw.exec(sqlite::detail::migrations[0]);
        raw.exec(R"sql(
            PRAGMA user_version = 1;
            INSERT INTO products VALUES ('LAMP', 6), ('DESK', 1);
            INSERT INTO batches (id, reference, sku, purchased_quantity, eta, allocated_quantity) VALUES
                (1, 'b1', 'LAMP', 100, NULL, 12), (2, 'b2', 'LAMP', 50, '2027-01-05', 7), (3, 'b3', 'DESK', 40, NULL, 5);
            INSERT INTO order_lines (id, orderid, sku, qty) VALUES (1, 'o1', 'LAMP', 5), (3, 'o3', 'LAMP', 7),
                (4, 'o4', 'LAMP', 7), (5, 'o1', 'DESK', 5);
            INSERT INTO allocations (id, orderline_id, batch_id) VALUES (1, 1, 1), (3, 3, 2), (4, 4, 1), (5, 5, 3);
            INSERT INTO allocations_view VALUES ('o1', 'LAMP', 'b1'), ('o3', 'LAMP', 'b2'), ('o4', 'LAMP', 'b1'),
                ('o1', 'DESK', 'b3');
        )sql");
    }
    System sys(path);
    CHECK(count(path, "PRAGMA user_version") == sqlite::schema_version);
    CHECK(count(path, "SELECT allocated_quantity FROM batch_stock WHERE reference = 'b1'") == 12);
    CHECK(count(path, "SELECT allocated_quantity FROM batch_stock WHERE reference = 'b2'") == 7);
    CHECK(count(path, "SELECT allocated_quantity FROM batch_stock WHERE reference = 'b3'") == 5);
    CHECK(count(path, "SELECT allocated_after FROM allocations WHERE id = 1") == 5);
    CHECK(count(path, "SELECT allocated_after FROM allocations WHERE id = 4") == 12);
    CHECK(count(path, "SELECT count(*) FROM order_lines") == 4);
    CHECK(sys.bus.handle(commands::Allocate{"o2", "DESK", 35}) == "b3");
    CHECK_FALSE(sys.bus.handle(commands::Allocate{"o3", "DESK", 1}).has_value());
    CHECK(sys.view.allocations("o4") == std::vector<ports::AllocationRow>{{"LAMP", "b1"}});

    // The migrated quantities drive allocation: b1 has 88 left and b2 43.
    CHECK(sys.bus.handle(commands::Allocate{"o5", "LAMP", 88}) == "b1");
    CHECK_FALSE(sys.bus.handle(commands::Allocate{"o6", "LAMP", 44}).has_value());
    CHECK(sys.bus.handle(commands::Allocate{"o6", "LAMP", 36}) == "b2");
    // Shrinking b1 deallocates its newest lines (o5, then o4) and reallocates them where there is room.
    sys.bus.handle(commands::ChangeBatchQuantity{"b1", 6});
    CHECK(count(path, "SELECT allocated_quantity FROM batch_stock WHERE reference = 'b1'") == 5);
    const Product lamp = stored_product(path, "LAMP");
    CHECK(lamp.batch("b1")->allocated_quantity() == 5);
    CHECK(lamp.batch("b1")->allocations().size() == 1);
    CHECK(lamp.batch("b2")->allocated_quantity() == 50);
    CHECK(sys.view.allocations("o5").empty());  // 88 fits nowhere now
    CHECK(sys.view.allocations("o4") == std::vector<ports::AllocationRow>{{"LAMP", "b2"}});
}

TEST_CASE("sqlite: a version 1 batch whose quantity has no line to live on is refused, and the file kept") {
    TempDir dir;
    const auto path = dir.file("v1.db");
    {
        SQLite::Database raw(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
        raw.exec("PRAGMA journal_mode = WAL");
        raw.exec(sqlite::detail::migrations[0]);
        raw.exec(R"sql(
            PRAGMA user_version = 1;
            INSERT INTO products VALUES ('LAMP', 2);
            INSERT INTO batches (reference, sku, purchased_quantity, allocated_quantity) VALUES ('b1', 'LAMP', 100, 30);
        )sql");
    }
    const std::string before = read_bytes(path);
    CHECK_THROWS_AS(sqlite::Database(sqlite::Options{path}), StorageError);
    CHECK_THROWS_WITH(sqlite::Database(sqlite::Options{path}),
                      Catch::Contains(path) && Catch::Contains("refusing to upgrade the schema to version 2") &&
                          Catch::Contains("batch b1 has an allocated quantity of 30 but no allocated line"));
    CHECK(read_bytes(path) == before);
    CHECK(count(path, "PRAGMA user_version") == 1);
    CHECK(count(path, "SELECT allocated_quantity FROM batches WHERE reference = 'b1'") == 30);
}

TEST_CASE("sqlite: a version 1 batch whose quantity is more than its lines is refused, and the file kept") {
    TempDir dir;
    const auto path = dir.file("v1.db");
    {
        // Version 1 stored a new product's batches with whatever quantity they claimed, lines or not.
        SQLite::Database raw(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
        raw.exec("PRAGMA journal_mode = WAL");
        raw.exec(sqlite::detail::migrations[0]);
        raw.exec(R"sql(
            PRAGMA user_version = 1;
            INSERT INTO products VALUES ('LAMP', 3);
            INSERT INTO batches (id, reference, sku, purchased_quantity, allocated_quantity) VALUES (1, 'b1', 'LAMP', 100, 30);
            INSERT INTO order_lines (id, orderid, sku, qty) VALUES (1, 'o1', 'LAMP', 10);
            INSERT INTO allocations (id, orderline_id, batch_id) VALUES (1, 1, 1);
        )sql");
    }
    const std::string before = read_bytes(path);
    CHECK_THROWS_WITH(sqlite::Database(sqlite::Options{path}),
                      Catch::Contains(path) && Catch::Contains("refusing to upgrade the schema to version 2") &&
                          Catch::Contains("batch b1 has an allocated quantity of 30 but its lines add up to 10"));
    CHECK(read_bytes(path) == before);
    CHECK(count(path, "PRAGMA user_version") == 1);
}

namespace {

/// A file of schema version 2 whose order_lines table has the first schema's constraint, UNIQUE (orderid, sku,
/// qty), as every file made before that migration was edited in place has; `data` fills it.
void make_v2_with_first_constraint(const std::string& path, const char* data) {
    SQLite::Database raw(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    raw.exec("PRAGMA journal_mode = WAL");
    raw.exec(sqlite::detail::migrations[0]);
    raw.exec(sqlite::detail::migrations[1]);
    raw.exec(R"sql(
        DROP TABLE order_lines;
        CREATE TABLE order_lines (
            id INTEGER PRIMARY KEY,
            orderid TEXT NOT NULL,
            sku TEXT NOT NULL,
            qty INTEGER NOT NULL,
            UNIQUE (orderid, sku, qty)
        );
        PRAGMA user_version = 2;
        INSERT INTO products VALUES ('LAMP', 2);
        INSERT INTO batches (id, reference, sku, purchased_quantity) VALUES (1, 'b1', 'LAMP', 100);
    )sql");
    raw.exec(data);
}

}  // namespace

TEST_CASE("sqlite: a file made with the first schema gets one stored line per order and SKU") {
    TempDir dir;
    const auto path = dir.file("v2.db");
    make_v2_with_first_constraint(path, R"sql(
        INSERT INTO order_lines (id, orderid, sku, qty) VALUES (1, 'o1', 'LAMP', 3);
        INSERT INTO allocations (id, orderline_id, batch_id, allocated_after) VALUES (1, 1, 1, 3);
    )sql");
    {
        sqlite::Database db(sqlite::Options{path});
        CHECK(count(path, "PRAGMA user_version") == sqlite::schema_version);
        CHECK(count(path, "SELECT allocated_quantity FROM batch_stock WHERE reference = 'b1'") == 3);
        CHECK(count(path, "SELECT count(*) FROM allocations") == 1);
        // A lookup that did not load o1's line lets the domain allocate o1 again; the schema must refuse it.
        auto uow = sqlite::UnitOfWorkFactory(db)();
        uow.products().get("LAMP")->allocate(OrderLine{"o1", "LAMP", 2});
        CHECK_THROWS_WITH(uow.commit(), Catch::Contains("clashes with a stored line"));
    }
    CHECK(count(path, "SELECT count(*) FROM order_lines") == 1);
    CHECK(count(path, "SELECT count(*) FROM pragma_foreign_key_check") == 0);  // allocations still find their lines
}

TEST_CASE("sqlite: a file where an order has two lines of one SKU is refused, and the file kept") {
    TempDir dir;
    const auto path = dir.file("v2.db");
    make_v2_with_first_constraint(path, R"sql(
        INSERT INTO order_lines (id, orderid, sku, qty) VALUES (1, 'o1', 'LAMP', 3), (2, 'o1', 'LAMP', 2);
        INSERT INTO allocations (id, orderline_id, batch_id, allocated_after) VALUES (1, 1, 1, 3), (2, 2, 1, 5);
    )sql");
    const std::string before = read_bytes(path);
    CHECK_THROWS_WITH(sqlite::Database(sqlite::Options{path}),
                      Catch::Contains(path) && Catch::Contains("refusing to upgrade the schema to version 3") &&
                          Catch::Contains("order o1 has 2 lines of SKU LAMP"));
    CHECK(read_bytes(path) == before);
    CHECK(count(path, "PRAGMA user_version") == 2);
}

TEST_CASE("sqlite: an empty database of schema version 0 is migrated in place, keeping what else it holds") {
    TempDir dir;
    const auto path = dir.file("old.db");
    {
        SQLite::Database raw(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
        raw.exec("CREATE TABLE notes (text TEXT); INSERT INTO notes VALUES ('kept')");
    }
    { sqlite::Database db(sqlite::Options{path}); }
    SQLite::Database raw(path, SQLite::OPEN_READONLY);
    CHECK(raw.execAndGet("PRAGMA user_version").getInt() == sqlite::schema_version);
    CHECK(raw.tableExists("products"));
    CHECK(raw.execAndGet("SELECT text FROM notes").getString() == "kept");
    // Opening it again finds nothing to migrate.
    sqlite::Database again(sqlite::Options{path});
    CHECK(again.options().path == path);
}

TEST_CASE("sqlite: data survives closing and reopening") {
    TempDir dir;
    const auto path = dir.file("allocation.db");
    {
        System sys(path);
        sys.bus.handle(commands::CreateBatch{"b1", "LAMP", 100, std::nullopt});
        sys.bus.handle(commands::CreateBatch{"b2", "LAMP", 100, day(5)});
        CHECK(sys.bus.handle(commands::Allocate{"o1", "LAMP", 10}) == "b1");
        CHECK(sys.bus.handle(commands::Allocate{"o2", "LAMP", 95}) == "b2");
    }
    System sys(path);
    CHECK(views::allocations("o1", sys.view) == std::vector<ports::AllocationRow>{{"LAMP", "b1"}});
    CHECK(views::allocations("o2", sys.view) == std::vector<ports::AllocationRow>{{"LAMP", "b2"}});
    Product lamp = stored_product(path, "LAMP");
    CHECK(lamp.version_number() == 4);
    CHECK(lamp.batch("b1")->allocated_quantity() == 10);
    CHECK(lamp.batch("b2")->eta() == day(5));
    CHECK(lamp.batch("b2")->available_quantity() == 5);
    CHECK(lamp.batch_of(OrderLine{"o2", "LAMP", 95}) != nullptr);
    // And the product goes on from where it was.
    CHECK(sys.bus.handle(commands::Allocate{"o3", "LAMP", 90}) == "b1");
    CHECK(stored_product(path, "LAMP").version_number() == 5);
}

TEST_CASE("sqlite: rollback happens by default and on an exception, in the file") {
    TempDir dir;
    const auto path = dir.file("allocation.db");
    System sys(path);
    sys.bus.handle(commands::CreateBatch{"b1", "LAMP", 100, std::nullopt});
    SECTION("leaving the scope without commit") {
        auto uow = sys.factory()();
        uow.products().get_for_order("LAMP", "o1")->allocate(OrderLine{"o1", "LAMP", 10});
        uow.products().add(Product("DESK")).add_batch(Batch("d1", "DESK", 3));
    }
    SECTION("an exception") {
        try {
            auto uow = sys.factory()();
            uow.products().get_for_order("LAMP", "o1")->allocate(OrderLine{"o1", "LAMP", 10});
            uow.products().add(Product("DESK")).add_batch(Batch("d1", "DESK", 3));
            throw std::runtime_error("handler failed");
        } catch (const std::runtime_error&) {
        }
    }
    CHECK(count(path, "SELECT count(*) FROM order_lines") == 0);
    CHECK(count(path, "SELECT count(*) FROM allocations") == 0);
    CHECK(count(path, "SELECT count(*) FROM products WHERE sku = 'DESK'") == 0);
    CHECK(count(path, "SELECT allocated_quantity FROM batch_stock WHERE reference = 'b1'") == 0);
    CHECK(count(path, "SELECT version_number FROM products WHERE sku = 'LAMP'") == 1);
    // The connection is usable again: the next unit of work commits.
    CHECK(sys.bus.handle(commands::Allocate{"o1", "LAMP", 10}) == "b1");
    CHECK(count(path, "SELECT version_number FROM products WHERE sku = 'LAMP'") == 2);
}

TEST_CASE("sqlite: two units of work racing on one SKU: exactly one commits", "[threads]") {
    TempDir dir;
    const auto path = dir.file("allocation.db");
    System sys(path);
    sys.bus.handle(commands::CreateBatch{"b1", "LAMP", 100, std::nullopt});
    const std::int64_t before = count(path, "SELECT version_number FROM products WHERE sku = 'LAMP'");

    std::barrier both_read(2);
    std::atomic<int> committed{0};
    std::atomic<int> refused{0};
    auto racer = [&](std::string orderid) {
        auto uow = sys.factory()();
        Product* lamp = uow.products().get_for_order("LAMP", orderid);
        lamp->allocate(OrderLine{orderid, "LAMP", 10});
        both_read.arrive_and_wait();  // both have read version `before`; now both commit
        try {
            uow.commit();
            ++committed;
        } catch (const ConcurrencyError&) {
            ++refused;
        }
    };
    std::thread first(racer, "o1");
    std::thread second(racer, "o2");
    first.join();
    second.join();

    CHECK(committed == 1);
    CHECK(refused == 1);
    CHECK(count(path, "SELECT version_number FROM products WHERE sku = 'LAMP'") == before + 1);
    CHECK(count(path, "SELECT count(*) FROM allocations") == 1);
    CHECK(count(path, "SELECT allocated_quantity FROM batch_stock WHERE reference = 'b1'") == 10);
}

TEST_CASE("sqlite: two units of work creating the same product: the second gets ConcurrencyError") {
    TempDir dir;
    const auto path = dir.file("allocation.db");
    sqlite::Database db(sqlite::Options{path});
    sqlite::UnitOfWorkFactory factory(db);
    auto first = factory();
    auto second = factory();  // same thread: a second connection
    CHECK(first.products().get("LAMP") == nullptr);
    CHECK(second.products().get("LAMP") == nullptr);
    first.products().add(Product("LAMP")).add_batch(Batch("b1", "LAMP", 5));
    second.products().add(Product("LAMP")).add_batch(Batch("b2", "LAMP", 7));
    first.commit();
    CHECK_THROWS_AS(second.commit(), ConcurrencyError);
    CHECK(count(path, "SELECT count(*) FROM batches") == 1);
    CHECK(count(path, "SELECT count(*) FROM batches WHERE reference = 'b1'") == 1);
}

TEST_CASE("sqlite: lookups load only the lines they promise, and commits keep the rest") {
    TempDir dir;
    const auto path = dir.file("allocation.db");
    System sys(path);
    sys.bus.handle(commands::CreateBatch{"b1", "LAMP", 100, std::nullopt});
    for (int i = 0; i < 5; ++i) sys.bus.handle(commands::Allocate{fmt::format("o{}", i), "LAMP", 2});
    {
        auto uow = sys.factory()();
        Product* lamp = uow.products().get_for_order("LAMP", "o3");
        const Batch& b1 = *lamp->batch("b1");
        REQUIRE(b1.allocations().size() == 1);
        CHECK(b1.allocations()[0] == OrderLine{"o3", "LAMP", 2});
        CHECK(b1.allocated_quantity() == 10);  // the total is exact without the lines
        CHECK(lamp->allocate(OrderLine{"o9", "LAMP", 1}) == "b1");
        uow.commit();
    }
    {
        // A connection of its own, which has kept nothing from the units of work above.
        sqlite::Database fresh(sqlite::Options{path});
        auto uow = sqlite::UnitOfWorkFactory(fresh)();
        Product* lamp = uow.products().get("LAMP");
        CHECK(lamp->batch("b1")->allocations().empty());
        CHECK(lamp->batch("b1")->allocated_quantity() == 11);
        // Still unchanged, so the batch's lines can be loaded into the same object.
        CHECK(uow.products().get_by_batchref("b1") == lamp);
        CHECK(lamp->batch("b1")->allocations().size() == 6);
        lamp->allocate(OrderLine{"o10", "LAMP", 1});
        // Changed now: a new order (no stored line) needs nothing read, and gets the same object...
        CHECK(uow.products().get_for_order("LAMP", "o11") == lamp);
        // ...but an order with a stored line would need the product read again, which its changes forbid.
        CHECK_THROWS_AS(uow.products().get_for_order("LAMP", "o2"), LinesNotLoaded);
    }
    CHECK(count(path, "SELECT count(*) FROM allocations") == 6);
}

TEST_CASE("sqlite: a lookup that loads more lines keeps the references an earlier one handed out alive") {
    TempDir dir;
    const auto path = dir.file("allocation.db");
    System sys(path);
    sys.bus.handle(commands::CreateBatch{"b1", "LAMP", 100, std::nullopt});
    for (int i = 0; i < 3; ++i) sys.bus.handle(commands::Allocate{"o" + std::to_string(i), "LAMP", 2});
    sqlite::Database fresh(sqlite::Options{path});  // nothing kept from the commits above
    auto uow = sqlite::UnitOfWorkFactory(fresh)();
    Product* lamp = uow.products().get_for_order("LAMP", "o1");
    const Batch& b1 = *lamp->batch("b1");
    const std::span<const OrderLine> lines = b1.allocations();
    REQUIRE(lines.size() == 1);
    CHECK(uow.products().get_by_batchref("b1") == lamp);  // loads b1's other lines
    CHECK(lamp->batch("b1")->allocations().size() == 3);
    // What the first lookup handed out is still there, as it was (the asan preset checks the reads).
    CHECK(b1.reference() == "b1");
    CHECK(b1.allocated_quantity() == 6);
    CHECK(lines[0] == OrderLine{"o1", "LAMP", 2});
}

TEST_CASE("sqlite: a product kept from an earlier unit of work is handed out only while it is the stored one") {
    TempDir dir;
    const auto path = dir.file("allocation.db");
    System sys(path);
    sys.bus.handle(commands::CreateBatch{"b1", "LAMP", 20, std::nullopt});
    CHECK(sys.bus.handle(commands::Allocate{"o1", "LAMP", 4}) == "b1");
    auto allocated = [&] {
        auto uow = sys.factory()();
        return uow.products().get("LAMP")->batch("b1")->allocated_quantity();
    };
    CHECK(allocated() == 4);
    {
        // The product this connection ended with comes back, with the line it allocated (a read of the product
        // alone would load no lines).
        auto uow = sys.factory()();
        REQUIRE(uow.products().get("LAMP")->batch("b1")->allocations().size() == 1);
        CHECK(uow.products().get("LAMP")->batch("b1")->allocations()[0] == OrderLine{"o1", "LAMP", 4});
    }

    SECTION("a commit through another connection (another process, say) is seen") {
        System other(path);
        CHECK(other.bus.handle(commands::Allocate{"o2", "LAMP", 5}) == "b1");
        CHECK(allocated() == 9);
        {
            auto uow = sys.factory()();
            CHECK(uow.products().get("LAMP")->batch("b1")->allocations().empty());  // read afresh
        }
        CHECK(sys.bus.handle(commands::Allocate{"o3", "LAMP", 11}) == "b1");
        CHECK_FALSE(sys.bus.handle(commands::Allocate{"o4", "LAMP", 1}).has_value());
        CHECK(count(path, "SELECT allocated_quantity FROM batch_stock") == 20);
    }
    SECTION("an order's stored line is loaded even when the kept product is current") {
        // Another connection allocates o2; this one then reads LAMP afresh, without lines, and keeps it.
        System other(path);
        CHECK(other.bus.handle(commands::Allocate{"o2", "LAMP", 5}) == "b1");
        CHECK(allocated() == 9);
        auto uow = sys.factory()();
        Product* lamp = uow.products().get_for_order("LAMP", "o2");
        REQUIRE(lamp->batch("b1")->allocations().size() >= 1);
        CHECK(lamp->allocate(OrderLine{"o2", "LAMP", 5}) == "b1");  // already there: nothing changes
        CHECK_FALSE(lamp->changed());
        CHECK_THROWS_AS(lamp->allocate(OrderLine{"o2", "LAMP", 6}), DuplicateLine);
    }
    SECTION("a unit of work that did not commit leaves the kept product as stored") {
        {
            auto uow = sys.factory()();
            CHECK(uow.products().get_for_order("LAMP", "o5")->allocate(OrderLine{"o5", "LAMP", 3}) == "b1");
        }
        CHECK(allocated() == 4);
        CHECK(sys.bus.handle(commands::Allocate{"o5", "LAMP", 16}) == "b1");
        CHECK(allocated() == 20);
    }
    SECTION("a lost race leaves nothing stale behind") {
        {
            auto uow = sys.factory()();
            Product* lamp = uow.products().get_for_order("LAMP", "o6");
            CHECK(lamp->allocate(OrderLine{"o6", "LAMP", 10}) == "b1");
            System other(path);
            CHECK(other.bus.handle(commands::Allocate{"o7", "LAMP", 10}) == "b1");
            CHECK_THROWS_AS(uow.commit(), ConcurrencyError);
        }
        CHECK(allocated() == 14);
        CHECK(sys.bus.handle(commands::Allocate{"o6", "LAMP", 10}) == std::nullopt);
        CHECK(sys.bus.handle(commands::Allocate{"o6", "LAMP", 6}) == "b1");
    }
    CHECK(count(path, "SELECT count(*) FROM batch_stock WHERE allocated_quantity > purchased_quantity") == 0);
}

TEST_CASE("sqlite: lines allocated and deallocated in one commit leave exact quantities") {
    TempDir dir;
    const auto path = dir.file("allocation.db");
    System sys(path);
    sys.bus.handle(commands::CreateBatch{"b1", "LAMP", 50, std::nullopt});
    sys.bus.handle(commands::CreateBatch{"b2", "LAMP", 50, day(3)});
    for (int i = 0; i < 3; ++i) sys.bus.handle(commands::Allocate{fmt::format("o{}", i), "LAMP", 10});
    {
        auto uow = sys.factory()();
        Product* lamp = uow.products().get_by_batchref("b1");
        CHECK(lamp->allocate(OrderLine{"o3", "LAMP", 15}) == "b1");  // b1: 45
        lamp->change_batch_quantity("b1", 25);                        // o3 and o2 leave b1 (20) for b2 (25)
        CHECK(lamp->allocate(OrderLine{"o4", "LAMP", 5}) == "b1");   // 25
        CHECK(lamp->allocate(OrderLine{"o2", "LAMP", 10}) == "b2");  // already there
        uow.commit();
    }
    CHECK(count(path, "SELECT allocated_quantity FROM batch_stock WHERE reference = 'b1'") == 25);
    CHECK(count(path, "SELECT allocated_quantity FROM batch_stock WHERE reference = 'b2'") == 25);
    CHECK(count(path, "SELECT count(*) FROM order_lines l JOIN allocations a ON a.orderline_id = l.id "
                      "JOIN batches b ON b.id = a.batch_id WHERE l.orderid = 'o3' AND b.reference = 'b2'") == 1);
    const Product lamp = stored_product(path, "LAMP");
    CHECK(lamp.batch("b1")->allocated_quantity() == 25);
    CHECK(lamp.batch("b1")->all_lines_loaded());
    CHECK(lamp.batch("b2")->allocated_quantity() == 25);
    // The next deallocations take the newest lines (o4, o1, o0) and place them again at once: o4 back in b1.
    sys.bus.handle(commands::ChangeBatchQuantity{"b1", 8});
    CHECK(count(path, "SELECT allocated_quantity FROM batch_stock WHERE reference = 'b1'") == 5);
    CHECK(count(path, "SELECT allocated_quantity FROM batch_stock WHERE reference = 'b2'") == 45);
    CHECK(views::allocations("o4", sys.view) == std::vector<ports::AllocationRow>{{"LAMP", "b1"}});
    CHECK(views::allocations("o0", sys.view) == std::vector<ports::AllocationRow>{{"LAMP", "b2"}});
}

TEST_CASE("sqlite: a new product's batches must hold all their lines") {
    TempDir dir;
    System sys(dir.file("allocation.db"));
    auto uow = sys.factory()();
    Product partial("LAMP", {Batch("b1", "LAMP", 100, std::nullopt, {OrderLine{"o1", "LAMP", 5}}, 30)});
    CHECK_THROWS_AS(uow.products().add(std::move(partial)), std::invalid_argument);
    CHECK(uow.products().get("LAMP") == nullptr);
}

TEST_CASE("sqlite: shrinking a batch deallocates its newest lines and the bus reallocates them") {
    TempDir dir;
    const auto path = dir.file("allocation.db");
    System sys(path);
    sys.bus.handle(commands::CreateBatch{"b1", "LAMP", 50, std::nullopt});
    sys.bus.handle(commands::CreateBatch{"b2", "LAMP", 50, day(2)});
    for (int i = 0; i < 5; ++i) sys.bus.handle(commands::Allocate{fmt::format("o{}", i), "LAMP", 10});
    sys.bus.handle(commands::ChangeBatchQuantity{"b1", 25});
    CHECK(views::allocations("o4", sys.view) == std::vector<ports::AllocationRow>{{"LAMP", "b2"}});
    CHECK(views::allocations("o3", sys.view) == std::vector<ports::AllocationRow>{{"LAMP", "b2"}});
    CHECK(views::allocations("o1", sys.view) == std::vector<ports::AllocationRow>{{"LAMP", "b1"}});
    Product lamp = stored_product(path, "LAMP");
    CHECK(lamp.batch("b1")->allocated_quantity() == 20);
    CHECK(lamp.batch("b1")->allocations().size() == 2);
    CHECK(lamp.batch("b2")->allocated_quantity() == 30);
    CHECK(count(path, "SELECT sum(qty) FROM order_lines") == 50);
    CHECK(count(path, "SELECT count(*) FROM allocations") == 5);
}

TEST_CASE("sqlite: many threads through one bus on one file never oversell, lose or double", "[threads]") {
    TempDir dir;
    const auto path = dir.file("allocation.db");
    std::atomic<int> handler_failures{0};
    BusOptions options;
    options.max_attempts = 1000;
    options.on_error = [&](const events::Event&, std::string_view, const std::exception&) { ++handler_failures; };
    System sys(path, options);
    sys.bus.handle(commands::CreateBatch{"b1", "LAMP", 150, std::nullopt});
    sys.bus.handle(commands::CreateBatch{"b2", "LAMP", 100, day(1)});

    std::atomic<int> acknowledged{0};
    std::vector<std::thread> workers;
    for (int t = 0; t < 4; ++t) {
        workers.emplace_back([&, t] {
            for (int i = 0; i < 100; ++i) {
                // Threads t and t^1 send the same orders: each line is sent twice, concurrently.
                auto ref = sys.bus.handle(commands::Allocate{fmt::format("o{}", (t / 2) * 100 + i), "LAMP", 1});
                if (ref) ++acknowledged;
            }
        });
    }
    for (auto& w : workers) w.join();
    CHECK(handler_failures == 0);
    CHECK(count(path, "SELECT count(*) FROM allocations") == 200);  // 200 distinct lines, 250 in stock
    CHECK(acknowledged == 400);                                     // the repeated line is acknowledged again
    CHECK(count(path, "SELECT sum(allocated_quantity) FROM batch_stock") == 200);
    CHECK(count(path, "SELECT version_number FROM products") == 2 + 200);
}

TEST_CASE("sqlite: background checkpoints copy the log into the file while commits go on, losing nothing",
          "[threads]") {
    TempDir dir;
    const auto path = dir.file("allocation.db");
    constexpr int orders = 600;  // a few pages of log each: past Checkpointer::request_pages several times over
    {
        System sys(sqlite::Options{.path = path, .checkpoint = sqlite::Checkpoint::background});
        sys.bus.handle(commands::CreateBatch{"b1", "LAMP", orders, std::nullopt});
        for (int i = 0; i < orders; ++i) sys.bus.handle(commands::Allocate{fmt::format("o{}", i), "LAMP", 1});
        // The thread runs on its own time: wait for it (a bounded wait, not a measurement).
        for (int i = 0; i < 3000 && sys.db.background_checkpoints() == 0; ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        CHECK(sys.db.background_checkpoints() > 0);
        // The log is restarted after a checkpoint instead of growing to the committer's backstop.
        CHECK(std::filesystem::file_size(path + "-wal") <
              sqlite::detail::Checkpointer::backstop_pages * std::uintmax_t{4096});
    }
    CHECK(count(path, "SELECT count(*) FROM allocations") == orders);
    CHECK(count(path, "SELECT sum(allocated_quantity) FROM batch_stock") == orders);
}

TEST_CASE("sqlite: background checkpoints are ignored for :memory:, which has no log") {
    System sys(sqlite::Options{.path = ":memory:", .checkpoint = sqlite::Checkpoint::background});
    sys.bus.handle(commands::CreateBatch{"b1", "LAMP", 10, std::nullopt});
    CHECK(sys.bus.handle(commands::Allocate{"o1", "LAMP", 1}) == "b1");
    CHECK(sys.db.background_checkpoints() == 0);
}

TEST_CASE("sqlite: several processes allocating through their own bus into one file") {
    TempDir dir;
    const auto path = dir.file("allocation.db");
    {
        System sys(path);
        sys.bus.handle(commands::CreateBatch{"LAMP-1", "LAMP", 60, std::nullopt});
        sys.bus.handle(commands::CreateBatch{"LAMP-2", "LAMP", 40, day(4)});
        sys.bus.handle(commands::CreateBatch{"DESK-1", "DESK", 70, std::nullopt});
    }
    constexpr int processes = 4;
    constexpr int orders = 60;  // per process: 120 lines per SKU, about 240 units wanted, 100 and 70 in stock
    std::vector<pid_t> pids;
    for (int p = 0; p < processes; ++p) {
        std::vector<std::string> args{ALLOCATION_SQLITE_WORKER, path, std::to_string(p), std::to_string(orders),
                                      dir.file("answers-" + std::to_string(p))};
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        pid_t pid = 0;
        REQUIRE(posix_spawn(&pid, ALLOCATION_SQLITE_WORKER, nullptr, nullptr, argv.data(), environ) == 0);
        pids.push_back(pid);
    }
    for (pid_t pid : pids) {
        int status = 0;
        REQUIRE(waitpid(pid, &status, 0) == pid);
        CHECK(WIFEXITED(status));
        CHECK(WEXITSTATUS(status) == 0);
    }

    std::map<std::string, std::tuple<std::string, int, std::string>> answers;  // orderid -> sku, qty, batchref
    int refused = 0;
    for (int p = 0; p < processes; ++p) {
        std::ifstream in(dir.file("answers-" + std::to_string(p)));
        std::string orderid, sku, batchref;
        int qty = 0;
        int lines = 0;
        while (in >> orderid >> sku >> qty >> batchref) {
            ++lines;
            if (batchref == "-") {
                ++refused;
            } else {
                answers[orderid] = {sku, qty, batchref};
            }
        }
        CHECK(lines == orders);
    }
    CHECK(refused > 0);  // demand exceeds stock on purpose

    SQLite::Database raw(path, SQLite::OPEN_READONLY);
    // Every acknowledged allocation is stored where it was said to go, and nothing else is.
    std::map<std::string, std::tuple<std::string, int, std::string>> stored;
    SQLite::Statement lines(raw,
                            "SELECT l.orderid, l.sku, l.qty, b.reference FROM order_lines l JOIN allocations a ON "
                            "a.orderline_id = l.id JOIN batches b ON b.id = a.batch_id");
    while (lines.executeStep()) {
        stored[lines.getColumn(0).getString()] = {lines.getColumn(1).getString(), lines.getColumn(2).getInt(),
                                                  lines.getColumn(3).getString()};
    }
    CHECK(stored == answers);
    // No batch is over-allocated, and the maintained quantity matches its lines.
    SQLite::Statement batches(raw,
                              "SELECT b.reference, b.purchased_quantity, b.allocated_quantity, "
                              "(SELECT coalesce(sum(l.qty), 0) FROM allocations a JOIN order_lines l ON "
                              "l.id = a.orderline_id WHERE a.batch_id = b.id) FROM batch_stock b");
    int batch_count = 0;
    while (batches.executeStep()) {
        ++batch_count;
        INFO(batches.getColumn(0).getString());
        CHECK(batches.getColumn(2).getInt() <= batches.getColumn(1).getInt());
        CHECK(batches.getColumn(2).getInt() == batches.getColumn(3).getInt());
    }
    CHECK(batch_count == 3);
    // Versions: one step per batch added and per line allocated.
    for (const std::string sku : {"LAMP", "DESK"}) {
        SQLite::Statement version(raw,
                                  "SELECT p.version_number, (SELECT count(*) FROM batches WHERE sku = p.sku), "
                                  "(SELECT count(*) FROM order_lines WHERE sku = p.sku) FROM products p WHERE sku = ?");
        version.bind(1, sku);
        REQUIRE(version.executeStep());
        INFO(sku);
        CHECK(version.getColumn(0).getInt64() == version.getColumn(1).getInt64() + version.getColumn(2).getInt64());
    }
    // The read model has every acknowledged allocation.
    sqlite::Database db(sqlite::Options{path});
    sqlite::AllocationsView view(db);
    for (const auto& [orderid, answer] : answers) {
        CHECK(view.allocations(orderid) == std::vector<ports::AllocationRow>{{std::get<0>(answer), std::get<2>(answer)}});
    }
}

TEST_CASE("sqlite: an unwritable path is refused with a clear error, touching nothing") {
    TempDir dir;
    const auto blocker = dir.file("not-a-directory");
    write_bytes(blocker, "plain file");
    const auto path = blocker + "/allocation.db";
    try {
        sqlite::Database db(sqlite::Options{path});
        FAIL("opened " << path);
    } catch (const StorageError& e) {
        CHECK_THAT(e.what(), Catch::Contains(path) && Catch::Contains("cannot open"));
    }
    CHECK(read_bytes(blocker) == "plain file");
    CHECK_THROWS_AS(sqlite::Database(sqlite::Options{dir.path.string()}), StorageError);  // a directory
}

TEST_CASE("sqlite: a corrupt file is refused with a clear error and left unchanged") {
    TempDir dir;
    const auto path = dir.file("corrupt.db");
    std::string garbage(8192, '\0');
    for (std::size_t i = 0; i < garbage.size(); ++i) garbage[i] = static_cast<char>((i * 131 + 7) % 251);
    write_bytes(path, garbage);
    try {
        sqlite::Database db(sqlite::Options{path});
        FAIL("opened a corrupt file");
    } catch (const StorageError& e) {
        CHECK_THAT(e.what(), Catch::Contains(path) && Catch::Contains("not a database"));
    }
    CHECK(read_bytes(path) == garbage);
    CHECK_FALSE(fs::exists(path + "-wal"));
}

TEST_CASE("sqlite: a file with a newer schema is refused with a clear error and left unchanged") {
    TempDir dir;
    const auto path = dir.file("newer.db");
    {
        SQLite::Database raw(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
        raw.exec("CREATE TABLE products (sku TEXT PRIMARY KEY, colour TEXT); PRAGMA user_version = 99");
    }
    const std::string before = read_bytes(path);
    REQUIRE_FALSE(before.empty());
    try {
        sqlite::Database db(sqlite::Options{path});
        FAIL("opened a newer schema");
    } catch (const StorageError& e) {
        CHECK_THAT(e.what(), Catch::Contains(path) && Catch::Contains("schema version 99") &&
                                 Catch::Contains("(" + std::to_string(sqlite::schema_version) + ")"));
    }
    CHECK(read_bytes(path) == before);
    CHECK_FALSE(fs::exists(path + "-wal"));
}

TEST_CASE("sqlite: a group of commands commits in one transaction; one that needs a product read again runs alone") {
    TempDir dir;
    const auto path = dir.file("allocation.db");
    System sys(path);
    sys.bus.handle(commands::CreateBatch{"b1", "LAMP", 10, std::nullopt});
    sys.bus.handle(commands::CreateBatch{"b2", "DESK", 5, std::nullopt});
    sys.bus.handle(commands::Allocate{"o0", "LAMP", 1});
    const std::vector<Message> group{
        commands::Allocate{"o1", "LAMP", 2},
        commands::Allocate{"o2", "LAMP", 3},  // the product the first one changed serves this new order too
        commands::Allocate{"o1", "LAMP", 9},  // another quantity for o1: refused, alone
        commands::Allocate{"o0", "LAMP", 1},  // an order with a stored line: LAMP, changed, cannot be read again
        commands::Allocate{"o3", "DESK", 1},
        commands::ChangeBatchQuantity{"b1", 8},  // needs b1's lines: the same
    };
    const auto outcomes = sys.bus.handle_group(group);
    REQUIRE(outcomes.size() == 6);
    CHECK(outcomes[0].result == "b1");
    CHECK(outcomes[1].result == "b1");
    CHECK_THROWS_AS(std::rethrow_exception(outcomes[2].error), DuplicateLine);
    CHECK(outcomes[3].result == "b1");
    CHECK(outcomes[4].result == "b2");
    CHECK_FALSE(outcomes[5].error);

    // o1, o2 and o3 were stored by one commit: one creation time, and LAMP's two rows at one version.
    CHECK(count(path, "SELECT count(*) FROM outbox WHERE sku = 'LAMP' AND version_number = "
                      "(SELECT version_number FROM outbox WHERE payload LIKE '%\"o1\"%')") == 2);
    CHECK(count(path, "SELECT count(DISTINCT created_at) FROM outbox WHERE payload LIKE '%\"o1\"%' OR "
                      "payload LIKE '%\"o2\"%' OR payload LIKE '%\"o3\"%'") == 1);
    const Product lamp = stored_product(path, "LAMP");
    CHECK(lamp.batch("b1")->purchased_quantity() == 8);
    CHECK(lamp.batch("b1")->allocated_quantity() == 6);
    CHECK(views::allocations("o2", sys.view) == std::vector<ports::AllocationRow>{{"LAMP", "b1"}});
    CHECK(views::allocations("o3", sys.view) == std::vector<ports::AllocationRow>{{"DESK", "b2"}});
}
