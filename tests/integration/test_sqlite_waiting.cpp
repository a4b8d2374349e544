// Waiting lines on SQLite: stored in their own table with the change that made them, read back after reopening,
// carried over from the previous schema version, and never half-written when a commit loses its race.
#include <atomic>
#include <filesystem>
#include <string>
#include <vector>

#include <SQLiteCpp/SQLiteCpp.h>
#include <unistd.h>

#include "allocation/adapters/memory/recording.hpp"
#include "recording_delivery.hpp"
#include "allocation/adapters/sqlite/sqlite.hpp"
#include "allocation/allocation.hpp"
#include "catch.hpp"
#include "sqlite_files.hpp"

using namespace allocation;
using allocation::testing::count;
using allocation::testing::TempDir;
namespace fs = std::filesystem;

namespace {

using Lines = std::vector<OrderLine>;

struct System {
    explicit System(const std::string& path)
        : db(sqlite::Options{path}), view(db), bus(bootstrap(sqlite::UnitOfWorkFactory(db), delivery.relay)) {}
    sqlite::Database db;
    sqlite::AllocationsView view;
    sqlite::Outbox outbox{db};
    testing::RecordingDelivery<sqlite::Outbox> delivery{outbox};
    memory::RecordingNotifier& notifier = delivery.notifier;
    memory::RecordingPublisher& publisher = delivery.publisher;
    MessageBus<sqlite::UnitOfWorkFactory, decltype(delivery.relay)> bus;
};

// The waiting lines of a product as a fresh Database reads them (nothing cached can answer).
Lines stored_waiting(const std::string& path, const std::string& sku) {
    sqlite::Database db(sqlite::Options{path});
    auto uow = sqlite::UnitOfWorkFactory(db)();
    const Product* product = uow.products().get(sku);
    REQUIRE(product != nullptr);
    return {product->waiting().begin(), product->waiting().end()};
}

}  // namespace

TEST_CASE("sqlite: waiting lines are stored, survive reopening, and leave their table when stock arrives") {
    TempDir dir;
    const auto path = dir.file("allocation.db");
    {
        System sys(path);
        sys.bus.handle(commands::CreateBatch{"b1", "LAMP", 10, std::nullopt});
        sys.bus.handle(commands::Allocate{"o1", "LAMP", 8});
        sys.bus.handle(commands::Allocate{"o2", "LAMP", 2});
        sys.bus.handle(commands::ChangeBatchQuantity{"b1", 0});  // o2, then o1, wait
        CHECK(views::allocations("o1", sys.view).empty());
    }
    CHECK(count(path, "SELECT count(*) FROM waiting_lines") == 2);
    CHECK(count(path, "SELECT count(*) FROM order_lines") == 0);
    CHECK(count(path, "SELECT count(*) FROM allocations_view") == 0);
    CHECK(stored_waiting(path, "LAMP") == Lines{{"o2", "LAMP", 2}, {"o1", "LAMP", 8}});

    System sys(path);  // reopened
    CHECK_FALSE(sys.bus.handle(commands::Allocate{"o1", "LAMP", 8}).has_value());  // still waiting: nothing changes
    sys.bus.handle(commands::CreateBatch{"b2", "LAMP", 5, std::nullopt});           // o2 fits, o1 does not
    CHECK(stored_waiting(path, "LAMP") == Lines{{"o1", "LAMP", 8}});
    CHECK(views::allocations("o2", sys.view) == std::vector<ports::AllocationRow>{{"LAMP", "b2"}});
    sys.bus.handle(commands::ChangeBatchQuantity{"b1", 8});
    CHECK(count(path, "SELECT count(*) FROM waiting_lines") == 0);
    CHECK(views::allocations("o1", sys.view) == std::vector<ports::AllocationRow>{{"LAMP", "b1"}});
    CHECK(count(path, "SELECT allocated_quantity FROM batch_stock WHERE reference = 'b1'") == 8);
}

TEST_CASE("sqlite: a file of the schema version before waiting lines gets them and keeps its data") {
    TempDir dir;
    const auto path = dir.file("previous.db");
    constexpr int before_waiting_lines = 4;  // migrations[4] makes version 5, with waiting lines
    {
        SQLite::Database raw(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
        raw.exec("PRAGMA journal_mode = WAL");
        for (int version = 0; version < before_waiting_lines; ++version) raw.exec(sqlite::detail::migrations[version]);
        raw.exec("PRAGMA user_version = " + std::to_string(before_waiting_lines));
        raw.exec(R"sql(
            INSERT INTO products VALUES ('LAMP', 2);
            INSERT INTO batches (id, reference, sku, purchased_quantity) VALUES (1, 'b1', 'LAMP', 10);
            INSERT INTO order_lines (id, orderid, sku, qty) VALUES (1, 'o1', 'LAMP', 6);
            INSERT INTO allocations (id, orderline_id, batch_id, allocated_after) VALUES (1, 1, 1, 6);
            INSERT INTO allocations_view VALUES ('o1', 'LAMP', 'b1');
        )sql");
        REQUIRE_FALSE(raw.tableExists("waiting_lines"));
    }
    System sys(path);
    CHECK(count(path, "PRAGMA user_version") == sqlite::schema_version);
    CHECK(count(path, "SELECT count(*) FROM waiting_lines") == 0);
    CHECK(count(path, "SELECT allocated_quantity FROM batch_stock WHERE reference = 'b1'") == 6);
    sys.bus.handle(commands::ChangeBatchQuantity{"b1", 5});
    CHECK(stored_waiting(path, "LAMP") == Lines{{"o1", "LAMP", 6}});
    CHECK(views::allocations("o1", sys.view).empty());
}

TEST_CASE("sqlite: a file of schema version 5 gets the processed message ids and keeps its data") {
    TempDir dir;
    const auto path = dir.file("v5.db");
    {
        SQLite::Database raw(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
        raw.exec("PRAGMA journal_mode = WAL");
        for (int version = 0; version < 5; ++version) raw.exec(sqlite::detail::migrations[version]);
        raw.exec(R"sql(
            PRAGMA user_version = 5;
            INSERT INTO products VALUES ('LAMP', 1);
            INSERT INTO batches (id, reference, sku, purchased_quantity) VALUES (1, 'b1', 'LAMP', 10);
        )sql");
        REQUIRE_FALSE(raw.tableExists("processed_messages"));
    }
    System sys(path);
    CHECK(count(path, "PRAGMA user_version") == sqlite::schema_version);
    sys.bus.handle(commands::ChangeBatchQuantity{"b1", 5, "m1"});
    sys.bus.handle(commands::ChangeBatchQuantity{"b1", 7, "m1"});
    CHECK(count(path, "SELECT purchased_quantity FROM batches WHERE reference = 'b1'") == 5);
    CHECK(count(path, "SELECT count(*) FROM processed_messages WHERE id = 'm1'") == 1);
}

TEST_CASE("sqlite: a shrink that loses its race writes no waiting line and keeps every line in its batch") {
    TempDir dir;
    const auto path = dir.file("allocation.db");
    System first(path);
    first.bus.handle(commands::CreateBatch{"b1", "LAMP", 10, std::nullopt});
    first.bus.handle(commands::Allocate{"o1", "LAMP", 6});
    sqlite::Database second(sqlite::Options{path});

    {
        auto uow = sqlite::UnitOfWorkFactory(first.db)();
        uow.products().get_by_batchref("b1")->change_batch_quantity("b1", 0);  // o1 would wait
        {
            auto other = sqlite::UnitOfWorkFactory(second)();
            other.products().get_for_order("LAMP", "o2")->allocate(OrderLine{"o2", "LAMP", 1});
            other.commit();
        }
        CHECK_THROWS_AS(uow.commit(), ConcurrencyError);
    }
    CHECK(count(path, "SELECT count(*) FROM waiting_lines") == 0);
    CHECK(count(path, "SELECT allocated_quantity FROM batch_stock WHERE reference = 'b1'") == 7);
    CHECK(views::allocations("o1", first.view) == std::vector<ports::AllocationRow>{{"LAMP", "b1"}});
}

TEST_CASE("sqlite: a connection that kept a product sees the waiting lines another connection stored") {
    TempDir dir;
    const auto path = dir.file("allocation.db");
    System writer(path);
    System reader(path);
    writer.bus.handle(commands::CreateBatch{"b1", "LAMP", 10, std::nullopt});
    writer.bus.handle(commands::Allocate{"o1", "LAMP", 6});
    {
        auto uow = sqlite::UnitOfWorkFactory(reader.db)();
        REQUIRE(uow.products().get("LAMP")->waiting().empty());  // now kept by the reader's connection
    }
    writer.bus.handle(commands::ChangeBatchQuantity{"b1", 5});
    auto uow = sqlite::UnitOfWorkFactory(reader.db)();
    const Product* lamp = uow.products().get_for_order("LAMP", "o9");
    CHECK(Lines(lamp->waiting().begin(), lamp->waiting().end()) == Lines{{"o1", "LAMP", 6}});
}
