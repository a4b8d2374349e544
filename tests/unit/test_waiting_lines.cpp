// No allocated line ever vanishes: a shrink reallocates in the same change, a line with nowhere to go waits for
// stock, and waiting lines are allocated, oldest first, as soon as stock for them arrives.
#include <string>
#include <variant>
#include <vector>

#include "catch.hpp"
#include "flaky_unit_of_work.hpp"
#include "in_memory_system.hpp"

using namespace allocation;
using allocation::testing::FlakyUnitOfWorkFactory;
using allocation::testing::InMemorySystem;
using allocation::testing::RaceCounters;
using allocation::testing::today;
using allocation::testing::tomorrow;

namespace {

using Lines = std::vector<OrderLine>;

Lines waiting(const Product& product) { return {product.waiting().begin(), product.waiting().end()}; }
std::vector<events::Event> events_of(const Product& product) { return {product.events().begin(), product.events().end()}; }

std::vector<events::Event> take_events(Product& product) {
    std::vector<events::Event> out;
    product.mark_committed(out);
    return out;
}

// b1 (15, warehouse) holds o1, o2, o3 of 5 each; shrinking it to 5 leaves o3 and o2 waiting, in that order.
Product lamp_with_two_waiting() {
    Product product("LAMP", {Batch("b1", "LAMP", 15)});
    for (const char* order : {"o1", "o2", "o3"}) product.allocate(OrderLine{order, "LAMP", 5});
    product.change_batch_quantity("b1", 5);
    take_events(product);
    return product;
}

}  // namespace

TEST_CASE("a shrink allocates its deallocated lines again in the same change") {
    Product product("LAMP", {Batch("b1", "LAMP", 10), Batch("b2", "LAMP", 10, tomorrow())});
    product.allocate(OrderLine{"o1", "LAMP", 5});
    product.allocate(OrderLine{"o2", "LAMP", 5});
    take_events(product);

    product.change_batch_quantity("b1", 5);

    CHECK(product.events().size() == 2);
    CHECK(product.events()[0] == events::Event{events::Deallocated{"o2", "LAMP", 5}});
    CHECK(product.events()[1] == events::Event{events::Allocated{"o2", "LAMP", 5, "b2"}});
    CHECK(*product.batch_of(OrderLine{"o2", "LAMP", 5}) == "b2");
    CHECK(product.waiting().empty());
    CHECK(product.version_number() == 4);  // the quantity change and the allocation
    REQUIRE(product.changes().size() == 3);
    CHECK(std::holds_alternative<changes::QuantityChanged>(product.changes()[0]));
    CHECK(std::get<changes::LineDeallocated>(product.changes()[1]).slot == 0);
    CHECK(std::get<changes::LineAllocated>(product.changes()[2]).slot == 1);
}

TEST_CASE("a deallocated line may go back into the batch that shrank, once the lines after it left") {
    Product product("LAMP", {Batch("b1", "LAMP", 9)});
    product.allocate(OrderLine{"o1", "LAMP", 2});
    product.allocate(OrderLine{"o2", "LAMP", 5});
    product.allocate(OrderLine{"o3", "LAMP", 2});
    product.change_batch_quantity("b1", 6);  // o3 then o2 leave; o3 fits again, o2 does not
    CHECK(*product.batch_of(OrderLine{"o3", "LAMP", 2}) == "b1");
    CHECK(waiting(product) == Lines{{"o2", "LAMP", 5}});
    CHECK(product.batch("b1")->available_quantity() == 2);
}

TEST_CASE("a deallocated line that no batch can take waits for stock, out of the batches") {
    Product product = lamp_with_two_waiting();
    CHECK(waiting(product) == Lines{{"o3", "LAMP", 5}, {"o2", "LAMP", 5}});
    CHECK(product.is_waiting(OrderLine{"o2", "LAMP", 5}));
    CHECK_FALSE(product.is_waiting(OrderLine{"o1", "LAMP", 5}));
    CHECK(product.batch_of(OrderLine{"o2", "LAMP", 5}) == nullptr);
    CHECK(product.batch("b1")->allocated_quantity() == 5);

    Product fresh("LAMP", {Batch("b1", "LAMP", 15)});
    fresh.allocate(OrderLine{"o1", "LAMP", 5});
    fresh.allocate(OrderLine{"o2", "LAMP", 5});
    take_events(fresh);
    fresh.change_batch_quantity("b1", 0);  // cancelled: both lines wait, each raising OutOfStock
    CHECK(events_of(fresh) == std::vector<events::Event>{events::Deallocated{"o2", "LAMP", 5},
                                                       events::Deallocated{"o1", "LAMP", 5},
                                                       events::OutOfStock{"LAMP"}, events::OutOfStock{"LAMP"}});
    CHECK(waiting(fresh) == Lines{{"o2", "LAMP", 5}, {"o1", "LAMP", 5}});
}

TEST_CASE("a new batch takes the waiting lines it can hold, oldest first") {
    Product product = lamp_with_two_waiting();
    product.add_batch(Batch("b2", "LAMP", 7, today()));
    CHECK(events_of(product) == std::vector<events::Event>{events::Allocated{"o3", "LAMP", 5, "b2"}});
    CHECK(waiting(product) == Lines{{"o2", "LAMP", 5}});
    CHECK(product.version_number() == 6);  // 4, then the batch and the allocation
    REQUIRE(product.changes().size() == 3);
    CHECK(std::holds_alternative<changes::BatchAdded>(product.changes()[0]));
    CHECK(std::get<changes::WaitingLineRemoved>(product.changes()[1]).position == 0);
    CHECK(std::get<changes::LineAllocated>(product.changes()[2]).line == OrderLine{"o3", "LAMP", 5});

    take_events(product);
    product.add_batch(Batch("b3", "LAMP", 5, tomorrow()));
    CHECK(*product.batch_of(OrderLine{"o2", "LAMP", 5}) == "b3");
    CHECK(product.waiting().empty());
}

TEST_CASE("a waiting line too large for the new stock lets a later, smaller one have it") {
    Product product("LAMP", {Batch("b1", "LAMP", 10)});
    product.allocate(OrderLine{"small", "LAMP", 2});
    product.allocate(OrderLine{"big", "LAMP", 8});
    product.change_batch_quantity("b1", 0);  // big waits first, then small
    take_events(product);
    product.add_batch(Batch("b2", "LAMP", 3));
    CHECK(waiting(product) == Lines{{"big", "LAMP", 8}});
    CHECK(*product.batch_of(OrderLine{"small", "LAMP", 2}) == "b2");
}

TEST_CASE("a larger quantity allocates waiting lines, oldest first") {
    Product product = lamp_with_two_waiting();
    product.change_batch_quantity("b1", 12);
    CHECK(events_of(product) == std::vector<events::Event>{events::Allocated{"o3", "LAMP", 5, "b1"}});
    CHECK(waiting(product) == Lines{{"o2", "LAMP", 5}});
    take_events(product);
    product.change_batch_quantity("b1", 15);
    CHECK(events_of(product) == std::vector<events::Event>{events::Allocated{"o2", "LAMP", 5, "b1"}});
    CHECK(product.waiting().empty());
}

TEST_CASE("a shrink first places its own lines, then waiting lines take what is left") {
    // b1 is full with a1 and a2; w waits since b2 was cancelled.
    Product product("LAMP", {Batch("b1", "LAMP", 10), Batch("b2", "LAMP", 3, today())});
    product.allocate(OrderLine{"a1", "LAMP", 5});
    product.allocate(OrderLine{"a2", "LAMP", 5});
    product.allocate(OrderLine{"w", "LAMP", 3});
    product.change_batch_quantity("b2", 0);
    REQUIRE(waiting(product) == Lines{{"w", "LAMP", 3}});
    take_events(product);

    product.change_batch_quantity("b1", 8);  // a2 leaves and fits nowhere; the 3 it frees go to w

    CHECK(events_of(product) == std::vector<events::Event>{events::Deallocated{"a2", "LAMP", 5}, events::OutOfStock{"LAMP"},
                                                         events::Allocated{"w", "LAMP", 3, "b1"}});
    CHECK(waiting(product) == Lines{{"a2", "LAMP", 5}});
    CHECK(product.batch("b1")->available_quantity() == 0);
}

TEST_CASE("allocating a waiting line again changes nothing") {
    Product product = lamp_with_two_waiting();
    const std::int64_t version = product.version_number();

    CHECK_FALSE(product.allocate(OrderLine{"o2", "LAMP", 5}).has_value());
    CHECK(product.events().empty());  // not news: no second OutOfStock
    CHECK(product.changes().empty());
    CHECK(product.version_number() == version);
    CHECK(waiting(product) == Lines{{"o3", "LAMP", 5}, {"o2", "LAMP", 5}});  // in its place

    CHECK_THROWS_AS(product.allocate(OrderLine{"o2", "LAMP", 4}), DuplicateLine);
    CHECK_THROWS_WITH(product.allocate(OrderLine{"o2", "LAMP", 4}), "Order o2 already has a line of 5 LAMP");
    CHECK(product.changes().empty());
}

TEST_CASE("allocating a waiting line again keeps it waiting even where a batch has room for it") {
    // A new line may take stock that a larger waiting line could not use; the waiting line keeps its place.
    Product product = lamp_with_two_waiting();
    product.add_batch(Batch("b2", "LAMP", 12));  // o3 and o2 both go
    take_events(product);
    CHECK(product.waiting().empty());
    CHECK(product.allocate(OrderLine{"o2", "LAMP", 5}) == "b2");  // allocated: the batch, as for any line
}

TEST_CASE("a new line without stock does not wait") {
    Product product("LAMP", {Batch("b1", "LAMP", 2)});
    CHECK_FALSE(product.allocate(OrderLine{"o1", "LAMP", 5}).has_value());
    CHECK(events_of(product) == std::vector<events::Event>{events::OutOfStock{"LAMP"}});
    CHECK(product.waiting().empty());
    CHECK(product.changes().empty());
    product.add_batch(Batch("b2", "LAMP", 5));
    CHECK(product.batch("b2")->allocated_quantity() == 0);
}

TEST_CASE("discarding changes brings waiting lines back as they were") {
    Product product = lamp_with_two_waiting();
    product.add_batch(Batch("b2", "LAMP", 5));  // o3 leaves the waiting lines
    product.change_batch_quantity("b1", 0);     // o1 joins them
    product.change_batch_quantity("b2", 0);     // o3 is back, behind o1
    REQUIRE(waiting(product) == Lines{{"o2", "LAMP", 5}, {"o1", "LAMP", 5}, {"o3", "LAMP", 5}});
    product.discard_changes();
    CHECK(waiting(product) == Lines{{"o3", "LAMP", 5}, {"o2", "LAMP", 5}});
    CHECK(product.batches().size() == 1);
    CHECK(*product.batch_of(OrderLine{"o1", "LAMP", 5}) == "b1");
    CHECK(product.is_waiting(OrderLine{"o3", "LAMP", 5}));
    CHECK_FALSE(product.is_waiting(OrderLine{"o1", "LAMP", 5}));
    CHECK(product.events().empty());
}

TEST_CASE("a product is rebuilt with its waiting lines, and refuses contradicting ones") {
    Product product("LAMP", {Batch("b1", "LAMP", 10, std::nullopt, {{"o1", "LAMP", 4}}, 4)}, 9,
                    {{"o2", "LAMP", 20}, {"o3", "LAMP", 1}});
    CHECK(waiting(product) == Lines{{"o2", "LAMP", 20}, {"o3", "LAMP", 1}});
    CHECK(product.is_waiting(OrderLine{"o3", "LAMP", 1}));
    CHECK_FALSE(product.allocate(OrderLine{"o3", "LAMP", 1}).has_value());  // it waits, even with room

    auto rebuild = [](Lines waiting) {
        return Product("LAMP", {Batch("b1", "LAMP", 10, std::nullopt, {{"o1", "LAMP", 4}}, 4)}, 9, std::move(waiting));
    };
    CHECK_THROWS_WITH(rebuild({{"o1", "LAMP", 2}}),
                      "Stored product LAMP has a waiting line of order o1 that is also allocated in batch b1");
    CHECK_THROWS_WITH(rebuild({{"o2", "LAMP", 2}, {"o2", "LAMP", 2}}),
                      "Stored product LAMP has a waiting line of order o2 that is waiting twice");
    CHECK_THROWS_WITH(rebuild({{"o2", "DESK", 2}}), "Stored product LAMP has a waiting line of order o2 for another sku, DESK");
    CHECK_THROWS_AS(rebuild({{"o2", "LAMP", 0}}), CorruptData);
    CHECK_THROWS_AS(rebuild({{"", "LAMP", 2}}), CorruptData);
}

// --- the service layer, on the in-memory adapters ----------------------------------------------------------------

TEST_CASE("service: a shrink leaves a line waiting, out of the view, until a new batch allocates it") {
    InMemorySystem sys;
    sys.bus.handle(commands::CreateBatch{"b1", "LAMP", 10, std::nullopt});
    CHECK(sys.bus.handle(commands::Allocate{"o1", "LAMP", 8}) == "b1");

    sys.bus.handle(commands::ChangeBatchQuantity{"b1", 5});
    CHECK(waiting(*sys.product("LAMP")) == Lines{{"o1", "LAMP", 8}});
    CHECK(views::allocations("o1", sys.view).empty());
    CHECK(sys.notifier.sent().size() == 1);  // OutOfStock, as in the book

    sys.bus.handle(commands::CreateBatch{"b2", "LAMP", 10, today()});
    CHECK(sys.product("LAMP")->waiting().empty());
    CHECK(views::allocations("o1", sys.view) == std::vector<ports::AllocationRow>{{"LAMP", "b2"}});
    REQUIRE(sys.publisher.published().size() == 2);
    CHECK(sys.publisher.published().back().event == events::Event{events::Allocated{"o1", "LAMP", 8, "b2"}});
}

TEST_CASE("service: a larger batch quantity allocates a waiting line") {
    InMemorySystem sys;
    sys.bus.handle(commands::CreateBatch{"b1", "LAMP", 10, std::nullopt});
    sys.bus.handle(commands::Allocate{"o1", "LAMP", 8});
    sys.bus.handle(commands::ChangeBatchQuantity{"b1", 0});
    sys.bus.handle(commands::ChangeBatchQuantity{"b1", 8});
    CHECK(views::allocations("o1", sys.view) == std::vector<ports::AllocationRow>{{"LAMP", "b1"}});
    CHECK(sys.product("LAMP")->batch("b1")->available_quantity() == 0);
}

TEST_CASE("service: an Allocate of a waiting line answers no batch and changes nothing") {
    InMemorySystem sys;
    sys.bus.handle(commands::CreateBatch{"b1", "LAMP", 10, std::nullopt});
    sys.bus.handle(commands::Allocate{"o1", "LAMP", 8});
    sys.bus.handle(commands::ChangeBatchQuantity{"b1", 5});
    const std::int64_t version = sys.product("LAMP")->version_number();

    CHECK_FALSE(sys.bus.handle(commands::Allocate{"o1", "LAMP", 8}).has_value());
    CHECK(sys.product("LAMP")->version_number() == version);
    CHECK(sys.notifier.sent().size() == 1);
    CHECK_THROWS_AS(sys.bus.handle(commands::Allocate{"o1", "LAMP", 3}), DuplicateLine);
    CHECK(waiting(*sys.product("LAMP")) == Lines{{"o1", "LAMP", 8}});
}

TEST_CASE("service: a shrink that loses every race leaves each line where it was") {
    memory::Store store;
    memory::RecordingNotifier notifier;
    memory::RecordingPublisher publisher;
    Relay relay(store.outbox(), handlers::Outbound(notifier, publisher));
    RaceCounters counters;
    auto bus = bootstrap(FlakyUnitOfWorkFactory{&store, &counters}, relay);
    bus.handle(commands::CreateBatch{"b1", "LAMP", 10, std::nullopt});
    bus.handle(commands::CreateBatch{"b2", "LAMP", 10, today()});
    bus.handle(commands::Allocate{"o1", "LAMP", 6});
    bus.handle(commands::Allocate{"o2", "LAMP", 4});

    counters.commits_to_fail = 100;
    CHECK_THROWS_AS(bus.handle(commands::ChangeBatchQuantity{"b1", 0}), ConcurrencyError);
    counters.commits_to_fail = 0;

    auto uow = memory::UnitOfWorkFactory(store)();
    const Product& product = *uow.products().get("LAMP");
    CHECK(*product.batch_of(OrderLine{"o1", "LAMP", 6}) == "b1");
    CHECK(*product.batch_of(OrderLine{"o2", "LAMP", 4}) == "b1");
    CHECK(product.waiting().empty());
    CHECK(views::allocations("o1", store.allocations()) == std::vector<ports::AllocationRow>{{"LAMP", "b1"}});
}
