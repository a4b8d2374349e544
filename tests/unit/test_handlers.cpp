// The service layer through the message bus, on the in-memory adapters (the book's test_handlers.py).
#include "catch.hpp"
#include "in_memory_system.hpp"

using namespace allocation;
using allocation::testing::InMemorySystem;
using allocation::testing::today;
using allocation::testing::tomorrow;

TEST_CASE("add_batch creates a product and a batch") {
    InMemorySystem sys;
    sys.bus.handle(commands::CreateBatch{"b1", "CRUNCHY-ARMCHAIR", 100, std::nullopt});
    auto product = sys.product("CRUNCHY-ARMCHAIR");
    REQUIRE(product);
    CHECK(product->batch("b1") != nullptr);
}

TEST_CASE("add_batch for an existing product adds to it") {
    InMemorySystem sys;
    sys.bus.handle(commands::CreateBatch{"b1", "GARISH-RUG", 100, std::nullopt});
    sys.bus.handle(commands::CreateBatch{"b2", "GARISH-RUG", 99, std::nullopt});
    CHECK(sys.product("GARISH-RUG")->batches().size() == 2);
    CHECK(sys.store.product_count() == 1);
}

TEST_CASE("a second CreateBatch with an existing reference is rejected and changes nothing") {
    InMemorySystem sys;
    sys.bus.handle(commands::CreateBatch{"b1", "GARISH-RUG", 100, std::nullopt});
    CHECK_THROWS_AS(sys.bus.handle(commands::CreateBatch{"b1", "OTHER-SKU", 5, std::nullopt}), DuplicateBatch);
    CHECK_THROWS_AS(sys.bus.handle(commands::CreateBatch{"b1", "GARISH-RUG", 5, std::nullopt}), DuplicateBatch);
    CHECK_FALSE(sys.product("OTHER-SKU"));
    CHECK(sys.product("GARISH-RUG")->batch("b1")->purchased_quantity() == 100);
}

TEST_CASE("a batch with a bad quantity is rejected and no product appears") {
    InMemorySystem sys;
    CHECK_THROWS_AS(sys.bus.handle(commands::CreateBatch{"b1", "LAMP", 0, std::nullopt}), InvalidQuantity);
    CHECK_FALSE(sys.product("LAMP"));
}

TEST_CASE("allocate returns the batch reference to the caller") {
    InMemorySystem sys;
    sys.bus.handle(commands::CreateBatch{"batch1", "COMPLICATED-LAMP", 100, std::nullopt});
    CHECK(sys.bus.handle(commands::Allocate{"o1", "COMPLICATED-LAMP", 10}) == "batch1");
    CHECK(sys.product("COMPLICATED-LAMP")->batch("batch1")->available_quantity() == 90);
}

TEST_CASE("allocate an unknown sku fails with 'Invalid sku'") {
    InMemorySystem sys;
    sys.bus.handle(commands::CreateBatch{"b1", "AREALSKU", 100, std::nullopt});
    CHECK_THROWS_WITH(sys.bus.handle(commands::Allocate{"o1", "NONEXISTENTSKU", 10}), "Invalid sku NONEXISTENTSKU");
}

TEST_CASE("allocate with a bad quantity fails before touching the product") {
    InMemorySystem sys;
    sys.bus.handle(commands::CreateBatch{"b1", "LAMP", 100, std::nullopt});
    CHECK_THROWS_AS(sys.bus.handle(commands::Allocate{"o1", "LAMP", -3}), InvalidQuantity);
    CHECK(sys.product("LAMP")->version_number() == 1);
}

TEST_CASE("allocating the same line twice through the bus allocates once") {
    InMemorySystem sys;
    sys.bus.handle(commands::CreateBatch{"b1", "LAMP", 100, std::nullopt});
    CHECK(sys.bus.handle(commands::Allocate{"o1", "LAMP", 10}) == "b1");
    CHECK(sys.bus.handle(commands::Allocate{"o1", "LAMP", 10}) == "b1");
    CHECK(sys.product("LAMP")->batch("b1")->available_quantity() == 90);
    CHECK(sys.publisher.published().size() == 1);
}

TEST_CASE("out of stock returns nothing and notifies the stock team") {
    InMemorySystem sys;
    sys.bus.handle(commands::CreateBatch{"b1", "POPULAR-CURTAINS", 9, std::nullopt});
    CHECK_FALSE(sys.bus.handle(commands::Allocate{"o1", "POPULAR-CURTAINS", 10}).has_value());
    auto sent = sys.notifier.sent();
    REQUIRE(sent.size() == 1);
    CHECK(sent[0] == memory::SentMessage{"stock@made.com", "Out of stock for POPULAR-CURTAINS"});
}

TEST_CASE("Allocated is published on line_allocated") {
    InMemorySystem sys;
    sys.bus.handle(commands::CreateBatch{"b1", "POPULAR-CURTAINS", 9, std::nullopt});
    sys.bus.handle(commands::Allocate{"o1", "POPULAR-CURTAINS", 5});
    auto published = sys.publisher.published();
    REQUIRE(published.size() == 1);
    CHECK(published[0] == memory::PublishedEvent{"line_allocated", events::Allocated{"o1", "POPULAR-CURTAINS", 5, "b1"},
                                                 outbox_id("POPULAR-CURTAINS", 2, 0)});
}

TEST_CASE("change_batch_quantity changes the available quantity") {
    InMemorySystem sys;
    sys.bus.handle(commands::CreateBatch{"batch1", "ADORABLE-SETTEE", 100, std::nullopt});
    sys.bus.handle(commands::ChangeBatchQuantity{"batch1", 50});
    CHECK(sys.product("ADORABLE-SETTEE")->batch("batch1")->available_quantity() == 50);
}

TEST_CASE("change_batch_quantity of an unknown batch fails with 'Unknown batch'") {
    InMemorySystem sys;
    CHECK_THROWS_WITH(sys.bus.handle(commands::ChangeBatchQuantity{"b-17", 5}), "Unknown batch b-17");
}

TEST_CASE("change_batch_quantity with a message id already applied changes nothing") {
    InMemorySystem sys;
    sys.bus.handle(commands::CreateBatch{"batch1", "ADORABLE-SETTEE", 100, std::nullopt});
    sys.bus.handle(commands::ChangeBatchQuantity{"batch1", 50, "m1"});
    sys.bus.handle(commands::ChangeBatchQuantity{"batch1", 70, "m2"});
    const auto version = sys.product("ADORABLE-SETTEE")->version_number();
    sys.bus.handle(commands::ChangeBatchQuantity{"batch1", 50, "m1"});  // delivered again, after m2
    sys.bus.handle(commands::ChangeBatchQuantity{"batch1", 70, "m2"});
    auto product = sys.product("ADORABLE-SETTEE");
    CHECK(product->batch("batch1")->purchased_quantity() == 70);
    CHECK(product->version_number() == version);
}

TEST_CASE("a message id is recorded only with the change: a failed message may be applied later") {
    InMemorySystem sys;
    CHECK_THROWS_AS(sys.bus.handle(commands::ChangeBatchQuantity{"batch1", 50, "m1"}), UnknownBatch);
    sys.bus.handle(commands::CreateBatch{"batch1", "ADORABLE-SETTEE", 100, std::nullopt});
    sys.bus.handle(commands::ChangeBatchQuantity{"batch1", 50, "m1"});
    CHECK(sys.product("ADORABLE-SETTEE")->batch("batch1")->purchased_quantity() == 50);
}

TEST_CASE("change_batch_quantity reallocates the lines that no longer fit") {
    InMemorySystem sys;
    sys.bus.handle(commands::CreateBatch{"batch1", "INDIFFERENT-TABLE", 50, std::nullopt});
    sys.bus.handle(commands::CreateBatch{"batch2", "INDIFFERENT-TABLE", 50, today()});
    sys.bus.handle(commands::Allocate{"order1", "INDIFFERENT-TABLE", 20});
    sys.bus.handle(commands::Allocate{"order2", "INDIFFERENT-TABLE", 20});
    auto before = sys.product("INDIFFERENT-TABLE");
    CHECK(before->batch("batch1")->available_quantity() == 10);
    CHECK(before->batch("batch2")->available_quantity() == 50);

    sys.bus.handle(commands::ChangeBatchQuantity{"batch1", 25});

    auto after = sys.product("INDIFFERENT-TABLE");
    CHECK(after->batch("batch1")->available_quantity() == 5);
    CHECK(after->batch("batch2")->available_quantity() == 30);
    CHECK(views::allocations("order2", sys.view) == std::vector<ports::AllocationRow>{{"INDIFFERENT-TABLE", "batch2"}});
    CHECK(views::allocations("order1", sys.view) == std::vector<ports::AllocationRow>{{"INDIFFERENT-TABLE", "batch1"}});
}

TEST_CASE("the allocations view follows allocations and reallocations") {
    InMemorySystem sys;
    sys.bus.handle(commands::CreateBatch{"sku1batch", "sku1", 50, std::nullopt});
    sys.bus.handle(commands::CreateBatch{"sku2batch", "sku2", 50, today()});
    sys.bus.handle(commands::Allocate{"order1", "sku1", 20});
    sys.bus.handle(commands::Allocate{"order1", "sku2", 20});
    sys.bus.handle(commands::CreateBatch{"sku1batch-later", "sku1", 50, today()});
    sys.bus.handle(commands::Allocate{"otherorder", "sku1", 30});
    sys.bus.handle(commands::Allocate{"otherorder", "sku2", 10});

    CHECK(views::allocations("order1", sys.view) ==
          std::vector<ports::AllocationRow>{{"sku1", "sku1batch"}, {"sku2", "sku2batch"}});
    CHECK(views::allocations("nobody", sys.view).empty());
}

TEST_CASE("deallocation then reallocation shows the new batch in the view") {
    InMemorySystem sys;
    sys.bus.handle(commands::CreateBatch{"b1", "sku1", 50, std::nullopt});
    sys.bus.handle(commands::CreateBatch{"b2", "sku1", 50, today()});
    sys.bus.handle(commands::Allocate{"o1", "sku1", 40});
    sys.bus.handle(commands::ChangeBatchQuantity{"b1", 10});
    CHECK(views::allocations("o1", sys.view) == std::vector<ports::AllocationRow>{{"sku1", "b2"}});
}

TEST_CASE("a deallocated line with nowhere to go leaves the view and reports out of stock") {
    InMemorySystem sys;
    sys.bus.handle(commands::CreateBatch{"b1", "sku1", 50, std::nullopt});
    sys.bus.handle(commands::Allocate{"o1", "sku1", 40});
    sys.bus.handle(commands::ChangeBatchQuantity{"b1", 10});
    CHECK(views::allocations("o1", sys.view).empty());
    CHECK(sys.notifier.sent().size() == 1);
}

TEST_CASE("a second line of an order for the same sku is refused, so the view keeps one row per line") {
    InMemorySystem sys;
    sys.bus.handle(commands::CreateBatch{"b1", "LAMP", 5, std::nullopt});
    sys.bus.handle(commands::CreateBatch{"b2", "LAMP", 50, today()});
    CHECK(sys.bus.handle(commands::Allocate{"o1", "LAMP", 5}) == "b1");
    CHECK_THROWS_AS(sys.bus.handle(commands::Allocate{"o1", "LAMP", 6}), DuplicateLine);
    CHECK(views::allocations("o1", sys.view) == std::vector<ports::AllocationRow>{{"LAMP", "b1"}});
    CHECK(sys.product("LAMP")->batch("b2")->available_quantity() == 50);
}
