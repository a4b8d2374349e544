// Product aggregate rules: preference, idempotence, events, versions, quantity changes, and undo.
#include <variant>

#include "catch.hpp"
#include "in_memory_system.hpp"

using namespace allocation;
using allocation::testing::later;
using allocation::testing::today;
using allocation::testing::tomorrow;

TEST_CASE("warehouse stock is preferred to shipments") {
    Product product("RETRO-CLOCK", {Batch("shipment", "RETRO-CLOCK", 100, tomorrow()),
                                    Batch("in-stock", "RETRO-CLOCK", 100)});
    CHECK(product.allocate(OrderLine{"oref", "RETRO-CLOCK", 10}) == "in-stock");
    CHECK(product.batch("in-stock")->available_quantity() == 90);
    CHECK(product.batch("shipment")->available_quantity() == 100);
}

TEST_CASE("earlier shipments are preferred") {
    Product product("MINIMALIST-SPOON");
    product.add_batch(Batch("slow", "MINIMALIST-SPOON", 100, later()));
    product.add_batch(Batch("medium", "MINIMALIST-SPOON", 100, tomorrow()));
    product.add_batch(Batch("speedy", "MINIMALIST-SPOON", 100, today()));
    CHECK(product.allocate(OrderLine{"order1", "MINIMALIST-SPOON", 10}) == "speedy");
    CHECK(product.batch("speedy")->available_quantity() == 90);
    CHECK(product.batch("medium")->available_quantity() == 100);
    CHECK(product.batch("slow")->available_quantity() == 100);
}

TEST_CASE("a batch that cannot take the line is skipped for the next preferred one") {
    Product product("LAMP", {Batch("warehouse", "LAMP", 5), Batch("ship", "LAMP", 50, tomorrow())});
    CHECK(product.allocate(OrderLine{"o1", "LAMP", 10}) == "ship");
}

TEST_CASE("allocate returns the batch reference and raises Allocated") {
    Product product("HIGHBROW-POSTER", {Batch("in-stock", "HIGHBROW-POSTER", 100),
                                        Batch("shipment", "HIGHBROW-POSTER", 100, tomorrow())});
    auto ref = product.allocate(OrderLine{"oref", "HIGHBROW-POSTER", 10});
    REQUIRE(ref == "in-stock");
    REQUIRE(product.events().size() == 1);
    CHECK(product.events().back() == events::Event{events::Allocated{"oref", "HIGHBROW-POSTER", 10, "in-stock"}});
}

TEST_CASE("when nothing fits, OutOfStock is raised and no batch is returned") {
    Product product("SMALL-FORK", {Batch("batch1", "SMALL-FORK", 10, today())});
    product.allocate(OrderLine{"order1", "SMALL-FORK", 10});
    auto version = product.version_number();
    auto ref = product.allocate(OrderLine{"order2", "SMALL-FORK", 1});
    CHECK_FALSE(ref.has_value());
    CHECK(product.events().back() == events::Event{events::OutOfStock{"SMALL-FORK"}});
    CHECK(product.version_number() == version);
}

TEST_CASE("version_number goes up by one on every change") {
    Product product("SCANDI-PEN", {Batch("b1", "SCANDI-PEN", 100)});
    CHECK(product.version_number() == 0);
    product.allocate(OrderLine{"o1", "SCANDI-PEN", 10});
    CHECK(product.version_number() == 1);
    product.allocate(OrderLine{"o2", "SCANDI-PEN", 10});
    CHECK(product.version_number() == 2);
    product.add_batch(Batch("b2", "SCANDI-PEN", 5));
    CHECK(product.version_number() == 3);
    product.change_batch_quantity("b1", 50);
    CHECK(product.version_number() == 4);
}

TEST_CASE("allocating the same line again changes nothing") {
    Product product("ANGULAR-DESK", {Batch("b1", "ANGULAR-DESK", 20), Batch("b2", "ANGULAR-DESK", 20, tomorrow())});
    OrderLine line{"o1", "ANGULAR-DESK", 2};
    REQUIRE(product.allocate(line) == "b1");
    auto version = product.version_number();
    auto events = product.events().size();
    CHECK(product.allocate(line) == "b1");
    CHECK(product.batch("b1")->available_quantity() == 18);
    CHECK(product.batch("b1")->allocations().size() == 1);
    CHECK(product.version_number() == version);
    CHECK(product.events().size() == events);
}

TEST_CASE("a second batch with a taken reference is rejected") {
    Product product("LAMP", {Batch("b1", "LAMP", 20)});
    CHECK_THROWS_AS(product.add_batch(Batch("b1", "LAMP", 5)), DuplicateBatch);
    CHECK_THROWS_WITH(product.add_batch(Batch("b1", "LAMP", 5)), "Batch b1 already exists");
    CHECK(product.batches().size() == 1);
}

TEST_CASE("changing a batch quantity deallocates lines while it is over-allocated") {
    Product product("INDIFFERENT-TABLE", {Batch("b1", "INDIFFERENT-TABLE", 50)});
    product.allocate(OrderLine{"o1", "INDIFFERENT-TABLE", 20});
    product.allocate(OrderLine{"o2", "INDIFFERENT-TABLE", 20});
    product.change_batch_quantity("b1", 25);
    const Batch& batch = *product.batch("b1");
    CHECK(batch.purchased_quantity() == 25);
    CHECK(batch.available_quantity() == 5);
    REQUIRE(batch.allocations().size() == 1);
    // No other batch: o2 waits for stock.
    REQUIRE(product.events().size() == 4);
    CHECK(product.events()[2] == events::Event{events::Deallocated{"o2", "INDIFFERENT-TABLE", 20}});
    CHECK(product.events()[3] == events::Event{events::OutOfStock{"INDIFFERENT-TABLE"}});
}

TEST_CASE("changing an unknown batch names it") {
    Product product("LAMP", {Batch("b1", "LAMP", 20)});
    CHECK_THROWS_WITH(product.change_batch_quantity("b-17", 5), "Unknown batch b-17");
}

TEST_CASE("errors derive from one base and read as sentences") {
    CHECK_THROWS_AS(throw InvalidSku("RED-CHAIR"), Error);
    CHECK_THROWS_WITH(throw InvalidSku("RED-CHAIR"), "Invalid sku RED-CHAIR");
    CHECK_THROWS_AS(throw UnknownBatch("b-17"), Error);
    CHECK_THROWS_AS(throw ConcurrencyError("x"), Error);
}

TEST_CASE("the product records what changed since it was loaded") {
    Product product("LAMP", {Batch("b1", "LAMP", 20)}, 7);
    product.allocate(OrderLine{"o1", "LAMP", 5});
    product.add_batch(Batch("b2", "LAMP", 3));
    product.change_batch_quantity("b1", 4);
    REQUIRE(product.changes().size() == 5);
    CHECK(std::holds_alternative<changes::LineAllocated>(product.changes()[0]));
    CHECK(std::holds_alternative<changes::BatchAdded>(product.changes()[1]));
    CHECK(std::holds_alternative<changes::QuantityChanged>(product.changes()[2]));
    CHECK(std::get<changes::LineDeallocated>(product.changes()[3]).line == OrderLine{"o1", "LAMP", 5});
    CHECK(std::get<changes::WaitingLineAdded>(product.changes()[4]).line == OrderLine{"o1", "LAMP", 5});  // fits nowhere
    CHECK(product.loaded_version() == 7);
    CHECK(product.version_number() == 10);

    std::vector<events::Event> committed;
    product.mark_committed(committed);
    CHECK(committed.size() == 3);  // Allocated, Deallocated, OutOfStock
    CHECK(product.changes().empty());
    CHECK(product.events().empty());
    CHECK(product.loaded_version() == 10);
}

TEST_CASE("discarding changes restores exactly the loaded state") {
    Product product("LAMP", {Batch("b1", "LAMP", 20), Batch("b2", "LAMP", 20, tomorrow())}, 3);
    product.allocate(OrderLine{"keep", "LAMP", 5});
    std::vector<events::Event> sink;
    product.mark_committed(sink);

    product.allocate(OrderLine{"o1", "LAMP", 10});
    product.add_batch(Batch("b0", "LAMP", 100));
    product.change_batch_quantity("b1", 6);  // deallocates o1
    product.allocate(OrderLine{"o2", "LAMP", 3});
    product.discard_changes();

    CHECK(product.version_number() == 4);
    CHECK(product.events().empty());
    CHECK(product.changes().empty());
    REQUIRE(product.batches().size() == 2);
    CHECK(product.batch("b0") == nullptr);
    CHECK(product.batch("b1")->purchased_quantity() == 20);
    CHECK(product.batch("b1")->available_quantity() == 15);
    CHECK(product.batch("b2")->available_quantity() == 20);
    CHECK(product.batch_of(OrderLine{"keep", "LAMP", 5}) != nullptr);
    CHECK(product.batch_of(OrderLine{"o1", "LAMP", 10}) == nullptr);
    // Preference order survived: the warehouse batch still comes first.
    CHECK(product.allocate(OrderLine{"o3", "LAMP", 1}) == "b1");
}

TEST_CASE("a lazily loaded batch keeps exact availability") {
    Batch batch("b1", "LAMP", 100, std::nullopt, {OrderLine{"mine", "LAMP", 5}}, 60);
    Product product("LAMP", {batch}, 12);
    CHECK(product.batch("b1")->available_quantity() == 40);
    CHECK(product.allocate(OrderLine{"mine", "LAMP", 5}) == "b1");  // known line: unchanged
    CHECK(product.version_number() == 12);
    CHECK_FALSE(product.allocate(OrderLine{"big", "LAMP", 41}).has_value());
}

TEST_CASE("a batch knows whether all of its lines are loaded") {
    CHECK(Batch("b1", "LAMP", 100).all_lines_loaded());
    CHECK(Batch("b1", "LAMP", 100, std::nullopt, {OrderLine{"o1", "LAMP", 5}}, 5).all_lines_loaded());
    CHECK_FALSE(Batch("b1", "LAMP", 100, std::nullopt, {OrderLine{"o1", "LAMP", 5}}, 6).all_lines_loaded());
    CHECK_FALSE(Batch("b1", "LAMP", 100, std::nullopt, {}, 1).all_lines_loaded());
    Product product("LAMP", {Batch("b1", "LAMP", 100, std::nullopt, {}, 10)}, 3);
    product.allocate(OrderLine{"o2", "LAMP", 4});
    CHECK_FALSE(product.batch("b1")->all_lines_loaded());  // o2 is loaded, the first 10 units' lines are not
}

TEST_CASE("a batch whose lines are not all loaded cannot deallocate, and nothing changes") {
    // o1 is loaded; the newest line (the other 6 units) is not: deallocating o1 would take the wrong line.
    Product product("LAMP", {Batch("b1", "LAMP", 20, std::nullopt, {OrderLine{"o1", "LAMP", 5}}, 11)}, 7);
    CHECK_THROWS_AS(product.change_batch_quantity("b1", 8), std::logic_error);
    CHECK_THROWS_WITH(product.change_batch_quantity("b1", 8), Catch::Contains("were not all loaded"));
    CHECK_FALSE(product.changed());
    CHECK(product.version_number() == 7);
    CHECK(product.batch("b1")->purchased_quantity() == 20);
    // A change that deallocates nothing needs no lines.
    product.change_batch_quantity("b1", 11);
    CHECK(product.batch("b1")->available_quantity() == 0);
}

TEST_CASE("add_batch takes a new batch, with nothing allocated") {
    Product product("LAMP");
    CHECK_THROWS_AS(product.add_batch(Batch("b1", "LAMP", 100, std::nullopt, {OrderLine{"o1", "LAMP", 5}}, 5)),
                    std::invalid_argument);
    CHECK_THROWS_AS(product.add_batch(Batch("b1", "LAMP", 100, std::nullopt, {}, 30)), std::invalid_argument);
    CHECK(product.batches().empty());
    CHECK_FALSE(product.changed());
}

TEST_CASE("an order has one line per sku: another quantity for it is refused and changes nothing") {
    Product product("LAMP", {Batch("b1", "LAMP", 20), Batch("b2", "LAMP", 20, tomorrow())});
    REQUIRE(product.allocate(OrderLine{"o1", "LAMP", 5}) == "b1");
    auto version = product.version_number();
    CHECK_THROWS_AS(product.allocate(OrderLine{"o1", "LAMP", 6}), DuplicateLine);
    CHECK_THROWS_WITH(product.allocate(OrderLine{"o1", "LAMP", 6}), "Order o1 already has a line of 5 LAMP");
    CHECK(product.version_number() == version);
    CHECK(product.batch("b1")->available_quantity() == 15);
    CHECK(product.batch_of(OrderLine{"o1", "LAMP", 6}) == nullptr);
    CHECK(product.batch_of(OrderLine{"o1", "LAMP", 5}) != nullptr);
    CHECK(product.events().size() == 1);
}

TEST_CASE("a deallocated line that waits keeps its order's place for the same sku") {
    Product product("LAMP", {Batch("b1", "LAMP", 20)});
    product.allocate(OrderLine{"o1", "LAMP", 15});
    product.change_batch_quantity("b1", 10);  // o1 deallocated, and waiting
    CHECK_THROWS_AS(product.allocate(OrderLine{"o1", "LAMP", 8}), DuplicateLine);
    CHECK(product.batch("b1")->available_quantity() == 10);
}

TEST_CASE("one event sequence merges the events of several products in the order they were raised") {
    EventSequence sequence;
    Product lamp("LAMP", {Batch("lamp-b1", "LAMP", 10)});
    Product sofa("SOFA", {Batch("sofa-b1", "SOFA", 10)});
    lamp.number_events_from(sequence);
    sofa.number_events_from(sequence);
    sofa.allocate(OrderLine{"o1", "SOFA", 1});
    lamp.allocate(OrderLine{"o1", "LAMP", 2});
    sofa.allocate(OrderLine{"o2", "SOFA", 50});
    lamp.allocate(OrderLine{"o3", "LAMP", 3});

    std::vector<events::Event> committed;
    Product* const products[] = {&lamp, &sofa};  // seen in another order than they raised
    mark_committed(products, committed);
    const std::vector<events::Event> expected = {
        events::Allocated{"o1", "SOFA", 1, "sofa-b1"}, events::Allocated{"o1", "LAMP", 2, "lamp-b1"},
        events::OutOfStock{"SOFA"}, events::Allocated{"o3", "LAMP", 3, "lamp-b1"}};
    CHECK(committed == expected);
    CHECK(lamp.events().empty());
    CHECK(sofa.events().empty());
}

TEST_CASE("a product without a unit of work's sequence keeps its own events in the order raised") {
    Product lamp("LAMP", {Batch("b1", "LAMP", 10)});
    lamp.allocate(OrderLine{"o1", "LAMP", 2});
    lamp.allocate(OrderLine{"o2", "LAMP", 50});
    lamp.allocate(OrderLine{"o3", "LAMP", 3});
    std::vector<events::Event> committed;
    Product* const products[] = {&lamp};
    mark_committed(products, committed);
    const std::vector<events::Event> expected = {events::Allocated{"o1", "LAMP", 2, "b1"}, events::OutOfStock{"LAMP"},
                                                 events::Allocated{"o3", "LAMP", 3, "b1"}};
    CHECK(committed == expected);
}

TEST_CASE("a copy of a product does not keep the sequence of the unit of work that handed the original out") {
    Product copy = [] {
        EventSequence sequence;  // ends before the copy raises anything
        Product lamp("LAMP", {Batch("b1", "LAMP", 10)});
        lamp.number_events_from(sequence);
        return Product(lamp);
    }();
    CHECK(copy.allocate(OrderLine{"o1", "LAMP", 2}) == "b1");
    CHECK(copy.events().size() == 1);
}
