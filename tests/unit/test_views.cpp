// The read side's queries over the in-memory adapters: an order's allocations and a product's stock.
#include <optional>

#include "allocation/allocation.hpp"
#include "catch.hpp"
#include "in_memory_system.hpp"

using namespace allocation;
using allocation::testing::InMemorySystem;
using allocation::testing::later;

TEST_CASE("views::product: batches in the order they were added, with their quantities, and waiting lines",
          "[views]") {
    InMemorySystem sys;
    memory::UnitOfWorkFactory factory(sys.store);
    CHECK_FALSE(views::product("LAMP", factory).has_value());
    sys.bus.handle(commands::CreateBatch{"b1", "LAMP", 10, std::nullopt});
    sys.bus.handle(commands::CreateBatch{"b2", "LAMP", 5, later()});
    sys.bus.handle(commands::Allocate{"o1", "LAMP", 8});
    sys.bus.handle(commands::Allocate{"o2", "LAMP", 4});
    sys.bus.handle(commands::ChangeBatchQuantity{"b2", 0});  // o2 fits nowhere now: it waits
    const views::ProductStock expected{
        "LAMP", 5, {{"b1", std::nullopt, 10, 8, 2}, {"b2", later(), 0, 0, 0}}, {{"o2", 4}}};
    const auto stock = views::product("LAMP", factory);
    REQUIRE(stock.has_value());
    INFO("version " << stock->version << ", " << stock->batches.size() << " batches, " << stock->waiting.size()
                    << " waiting");
    CHECK(*stock == expected);
    CHECK_FALSE(views::product("DESK", factory).has_value());
}

TEST_CASE("views::product: reads committed state only, and changes nothing", "[views]") {
    InMemorySystem sys;
    memory::UnitOfWorkFactory factory(sys.store);
    sys.bus.handle(commands::CreateBatch{"b1", "LAMP", 10, std::nullopt});
    const auto before = views::product("LAMP", factory);
    REQUIRE(before.has_value());
    CHECK(views::product("LAMP", factory) == before);  // reading twice: the same version, nothing written
    sys.bus.handle(commands::Allocate{"o1", "LAMP", 3});
    const auto after = views::product("LAMP", factory);
    REQUIRE(after.has_value());
    CHECK(after->version == before->version + 1);
    CHECK(after->batches.at(0).available == 7);
}
