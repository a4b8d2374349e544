// One suite, written against the ports, run over every adapter: the fakes cannot drift from the real thing.
#include <atomic>
#include <span>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "adapters.hpp"
#include "allocation/allocation.hpp"
#include "catch.hpp"

using namespace allocation;
using allocation::contract::Adapters;

namespace {

Date day(int d) { return std::chrono::year{2027} / std::chrono::January / d; }

template <typename Adapter>
void seed(Adapter& adapter, std::string sku = "LAMP") {
    auto uow = adapter.factory()();
    Product& product = uow.products().add(Product(sku));
    product.add_batch(Batch(sku + "-b1", sku, 100));
    product.add_batch(Batch(sku + "-b2", sku, 50, day(3)));
    uow.commit();
}

template <typename Adapter>
Product reload(Adapter& adapter, std::string_view sku = "LAMP") {
    auto uow = adapter.factory()();
    Product* product = uow.products().get(sku);
    REQUIRE(product != nullptr);
    return *product;
}

}  // namespace

TEMPLATE_LIST_TEST_CASE("contract: the adapter models every port", "[contract]", Adapters) {
    TestType adapter;
    using Factory = decltype(adapter.factory());
    STATIC_REQUIRE(ports::UnitOfWorkFactory<Factory>);
    STATIC_REQUIRE(ports::UnitOfWork<decltype(adapter.factory()())>);
    STATIC_REQUIRE(ports::Repository<std::remove_cvref_t<decltype(adapter.factory()().products())>>);
    STATIC_REQUIRE(ports::AllocationsView<std::remove_cvref_t<decltype(adapter.view())>>);
}

TEMPLATE_LIST_TEST_CASE("contract: committed work is visible to the next unit of work", "[contract]", Adapters) {
    TestType adapter;
    seed(adapter);
    Product product = reload(adapter);
    CHECK(product.sku() == "LAMP");
    CHECK(product.version_number() == 2);
    REQUIRE(product.batches().size() == 2);
    CHECK(product.batch("LAMP-b1")->purchased_quantity() == 100);
    CHECK_FALSE(product.batch("LAMP-b1")->eta().has_value());
    CHECK(product.batch("LAMP-b2")->eta() == day(3));
    CHECK(product.changes().empty());
    CHECK(product.events().empty());
}

TEMPLATE_LIST_TEST_CASE("contract: leaving the scope without commit rolls back", "[contract]", Adapters) {
    TestType adapter;
    seed(adapter);
    {
        auto uow = adapter.factory()();
        uow.products().add(Product("DESK")).add_batch(Batch("DESK-b1", "DESK", 5));
        uow.products().get_for_order("LAMP", "o1")->allocate(OrderLine{"o1", "LAMP", 10});
    }
    auto uow = adapter.factory()();
    CHECK(uow.products().get("DESK") == nullptr);
    CHECK(uow.products().get_by_batchref("DESK-b1") == nullptr);
    Product* lamp = uow.products().get("LAMP");
    CHECK(lamp->batch("LAMP-b1")->available_quantity() == 100);
    CHECK(lamp->version_number() == 2);
}

TEMPLATE_LIST_TEST_CASE("contract: an exception leaving the scope rolls back", "[contract]", Adapters) {
    TestType adapter;
    seed(adapter);
    try {
        auto uow = adapter.factory()();
        uow.products().get_for_order("LAMP", "o1")->allocate(OrderLine{"o1", "LAMP", 10});
        throw std::runtime_error("handler failed");
    } catch (const std::runtime_error&) {
    }
    CHECK(reload(adapter).batch("LAMP-b1")->available_quantity() == 100);
}

TEMPLATE_LIST_TEST_CASE("contract: explicit rollback undoes every change and never throws", "[contract]", Adapters) {
    TestType adapter;
    seed(adapter);
    {
        auto uow = adapter.factory()();
        STATIC_REQUIRE(noexcept(uow.rollback()));
        Product* lamp = uow.products().get_by_batchref("LAMP-b1");
        lamp->allocate(OrderLine{"o1", "LAMP", 10});
        lamp->change_batch_quantity("LAMP-b2", 7);
        uow.rollback();
        CHECK(lamp->version_number() == 2);
        CHECK(uow.collect_new_events().empty());
        uow.commit();  // nothing left to write
    }
    Product lamp = reload(adapter);
    CHECK(lamp.batch("LAMP-b2")->purchased_quantity() == 50);
    CHECK(lamp.batch("LAMP-b1")->available_quantity() == 100);
}

TEMPLATE_LIST_TEST_CASE("contract: events of several products come back oldest first", "[contract]", Adapters) {
    TestType adapter;
    seed(adapter, "LAMP");
    seed(adapter, "SOFA");
    auto uow = adapter.factory()();
    Product* lamp = uow.products().get_for_order("LAMP", "o1");
    Product* sofa = uow.products().get_for_order("SOFA", "o1");
    REQUIRE(lamp != nullptr);
    REQUIRE(sofa != nullptr);
    sofa->allocate(OrderLine{"o1", "SOFA", 1});  // the product seen second raises first
    lamp->allocate(OrderLine{"o1", "LAMP", 2});
    sofa->allocate(OrderLine{"o2", "SOFA", 500});
    lamp->allocate(OrderLine{"o3", "LAMP", 3});
    uow.commit();
    const std::vector<events::Event> expected = {
        events::Allocated{"o1", "SOFA", 1, "SOFA-b1"}, events::Allocated{"o1", "LAMP", 2, "LAMP-b1"},
        events::OutOfStock{"SOFA"}, events::Allocated{"o3", "LAMP", 3, "LAMP-b1"}};
    CHECK(uow.collect_new_events() == expected);
}

TEMPLATE_LIST_TEST_CASE("contract: allocations, quantities and versions survive a round trip", "[contract]", Adapters) {
    TestType adapter;
    seed(adapter);
    {
        auto uow = adapter.factory()();
        Product* lamp = uow.products().get_for_order("LAMP", "o1");
        CHECK(lamp->allocate(OrderLine{"o1", "LAMP", 60}) == "LAMP-b1");
        CHECK(lamp->allocate(OrderLine{"o2", "LAMP", 45}) == "LAMP-b2");
        CHECK_FALSE(lamp->allocate(OrderLine{"o3", "LAMP", 41}).has_value());
        CHECK(uow.collect_new_events().empty());  // nothing committed yet
        uow.commit();
        auto events = uow.collect_new_events();
        REQUIRE(events.size() == 3);
        CHECK(events[0] == events::Event{events::Allocated{"o1", "LAMP", 60, "LAMP-b1"}});
        CHECK(events[1] == events::Event{events::Allocated{"o2", "LAMP", 45, "LAMP-b2"}});
        CHECK(events[2] == events::Event{events::OutOfStock{"LAMP"}});
        CHECK(uow.collect_new_events().empty());  // handed over once
    }
    auto uow = adapter.factory()();
    Product* lamp = uow.products().get_for_order("LAMP", "o2");
    REQUIRE(lamp != nullptr);
    CHECK(lamp->version_number() == 4);
    CHECK(lamp->batch("LAMP-b1")->available_quantity() == 40);
    CHECK(lamp->batch("LAMP-b2")->available_quantity() == 5);
    CHECK(lamp->batch_of(OrderLine{"o2", "LAMP", 45}) != nullptr);
}

TEMPLATE_LIST_TEST_CASE("contract: get_for_order loads the order's lines, so allocating again changes nothing",
                        "[contract]", Adapters) {
    TestType adapter;
    seed(adapter);
    {
        auto uow = adapter.factory()();
        uow.products().get_for_order("LAMP", "o1")->allocate(OrderLine{"o1", "LAMP", 10});
        uow.commit();
    }
    auto uow = adapter.factory()();
    Product* lamp = uow.products().get_for_order("LAMP", "o1");
    REQUIRE(lamp->batch_of(OrderLine{"o1", "LAMP", 10}) != nullptr);
    CHECK(lamp->allocate(OrderLine{"o1", "LAMP", 10}) == "LAMP-b1");
    CHECK_FALSE(lamp->changed());
    CHECK(lamp->events().empty());
    CHECK(lamp->version_number() == 3);
}

TEMPLATE_LIST_TEST_CASE("contract: get_by_batchref loads the batch's lines, so quantities can shrink", "[contract]",
                        Adapters) {
    TestType adapter;
    seed(adapter);
    {
        auto uow = adapter.factory()();
        Product* lamp = uow.products().get("LAMP");
        for (int i = 0; i < 5; ++i) lamp->allocate(OrderLine{"o" + std::to_string(i), "LAMP", 10});
        uow.commit();
    }
    {
        auto uow = adapter.factory()();
        Product* lamp = uow.products().get_by_batchref("LAMP-b1");
        REQUIRE(lamp != nullptr);
        CHECK(lamp->sku() == "LAMP");
        CHECK(lamp->batch("LAMP-b1")->allocations().size() == 5);
        lamp->change_batch_quantity("LAMP-b1", 25);  // deallocates o4, o3, o2, which go to b2
        uow.commit();
        CHECK(uow.collect_new_events().size() == 6);
    }
    auto uow = adapter.factory()();
    Product* lamp = uow.products().get_by_batchref("LAMP-b1");
    const Batch& b1 = *lamp->batch("LAMP-b1");
    CHECK(b1.purchased_quantity() == 25);
    CHECK(b1.allocated_quantity() == 20);
    REQUIRE(b1.allocations().size() == 2);
    CHECK(lamp->batch("LAMP-b2")->allocated_quantity() == 30);
    CHECK(lamp->version_number() == 2 + 5 + 1 + 3);
}

TEMPLATE_LIST_TEST_CASE("contract: waiting lines are stored with their product, oldest first, and leave it for stock",
                        "[contract]", Adapters) {
    using Lines = std::vector<OrderLine>;
    auto waiting = [](const Product& p) { return Lines(p.waiting().begin(), p.waiting().end()); };
    TestType adapter;
    seed(adapter);  // b1: 100, b2: 50
    {
        auto uow = adapter.factory()();
        Product* lamp = uow.products().get("LAMP");
        lamp->allocate(OrderLine{"o1", "LAMP", 60});
        lamp->allocate(OrderLine{"o2", "LAMP", 45});  // b2
        lamp->allocate(OrderLine{"o3", "LAMP", 40});
        uow.commit();
    }
    {
        auto uow = adapter.factory()();
        uow.products().get_by_batchref("LAMP-b1")->change_batch_quantity("LAMP-b1", 0);  // rolled back
    }
    CHECK(reload(adapter).waiting().empty());
    {
        auto uow = adapter.factory()();
        uow.products().get_by_batchref("LAMP-b1")->change_batch_quantity("LAMP-b1", 0);  // o3, o1: b2 has 5 left
        uow.commit();
        CHECK(uow.collect_new_events() ==
              std::vector<events::Event>{events::Deallocated{"o3", "LAMP", 40}, events::Deallocated{"o1", "LAMP", 60},
                                         events::OutOfStock{"LAMP"}, events::OutOfStock{"LAMP"}});
    }
    CHECK(adapter.view().allocations("o1").empty());
    CHECK(adapter.view().allocations("o2") == std::vector<ports::AllocationRow>{{"LAMP", "LAMP-b2"}});
    {
        auto uow = adapter.factory()();
        Product* lamp = uow.products().get_for_order("LAMP", "o2");  // every lookup loads every waiting line
        CHECK(waiting(*lamp) == Lines{{"o3", "LAMP", 40}, {"o1", "LAMP", 60}});
        CHECK_FALSE(lamp->allocate(OrderLine{"o1", "LAMP", 60}).has_value());
        CHECK_THROWS_AS(lamp->allocate(OrderLine{"o3", "LAMP", 1}), DuplicateLine);
        CHECK_FALSE(lamp->changed());
    }
    {
        auto uow = adapter.factory()();
        uow.products().get("LAMP")->add_batch(Batch("LAMP-b3", "LAMP", 50, day(5)));  // o3 takes it
        uow.commit();
    }
    const Product after_batch = reload(adapter);
    CHECK(waiting(after_batch) == Lines{{"o1", "LAMP", 60}});
    CHECK(*after_batch.batch_of(OrderLine{"o3", "LAMP", 40}) == "LAMP-b3");
    CHECK(adapter.view().allocations("o3") == std::vector<ports::AllocationRow>{{"LAMP", "LAMP-b3"}});
    {
        auto uow = adapter.factory()();
        uow.products().get_by_batchref("LAMP-b1")->change_batch_quantity("LAMP-b1", 60);  // o1 takes it
        uow.commit();
    }
    const Product after_quantity = reload(adapter);
    CHECK(after_quantity.waiting().empty());
    CHECK(after_quantity.batch("LAMP-b1")->available_quantity() == 0);
    CHECK(adapter.view().allocations("o1") == std::vector<ports::AllocationRow>{{"LAMP", "LAMP-b1"}});
}

TEMPLATE_LIST_TEST_CASE("contract: a new product's waiting lines are stored with it", "[contract]", Adapters) {
    TestType adapter;
    {
        auto uow = adapter.factory()();
        uow.products().add(Product("DESK", {Batch("d1", "DESK", 1)}, 0, {{"w1", "DESK", 3}, {"w2", "DESK", 2}}));
        uow.commit();
    }
    const Product desk = reload(adapter, "DESK");
    CHECK(std::vector<OrderLine>(desk.waiting().begin(), desk.waiting().end()) ==
          std::vector<OrderLine>{{"w1", "DESK", 3}, {"w2", "DESK", 2}});
}

TEMPLATE_LIST_TEST_CASE("contract: threads sharing one bus never oversell, lose or double an allocation", "[contract][threads]",
                        Adapters) {
    TestType adapter;
    memory::RecordingNotifier notifier;
    memory::RecordingPublisher publisher;
    std::atomic<int> handler_failures{0};
    RelayOptions relay_options;
    relay_options.on_error = [&](std::string_view, const std::exception&) { ++handler_failures; };
    Relay relay(adapter.outbox(), handlers::Outbound(notifier, publisher), relay_options);
    BusOptions options;
    options.max_attempts = 1000;  // the threads race for one product
    auto bus = bootstrap(adapter.factory(), relay, options);
    bus.handle(commands::CreateBatch{"b1", "LAMP", 60, std::nullopt});
    bus.handle(commands::CreateBatch{"b2", "LAMP", 40, day(1)});

    std::atomic<int> acknowledged{0};
    std::vector<std::thread> workers;
    for (int t = 0; t < 4; ++t) {
        workers.emplace_back([&, t] {
            for (int i = 0; i < 40; ++i) {
                // Threads t and t^1 send the same orders: each line is sent twice, concurrently.
                auto ref = bus.handle(commands::Allocate{"o" + std::to_string((t / 2) * 40 + i), "LAMP", 2});
                if (ref) ++acknowledged;
            }
        });
    }
    for (auto& w : workers) w.join();

    CHECK(handler_failures == 0);
    // 80 distinct lines of 2 units against 100 in stock: exactly 50 fit, each acknowledged twice.
    CHECK(acknowledged == 100);
    CHECK(publisher.published().size() == 50);  // each allocation left once, through the outbox, at once
    CHECK(adapter.outbox().backlog() == ports::OutboxBacklog{});
    std::vector<std::pair<std::string, std::string>> stored;  // (orderid, batchref)
    {
        auto uow = adapter.factory()();
        Product* lamp = uow.products().get_by_batchref("b1");
        REQUIRE(lamp == uow.products().get_by_batchref("b2"));
        for (const Batch& batch : lamp->batches()) {
            CHECK(batch.all_lines_loaded());
            CHECK(batch.available_quantity() == 0);
            for (const OrderLine& line : batch.allocations()) stored.emplace_back(line.orderid, batch.reference());
        }
        CHECK(lamp->version_number() == 2 + 50);
    }
    CHECK(stored.size() == 50);
    for (const auto& [orderid, batchref] : stored) {
        CHECK(views::allocations(orderid, adapter.view()) == std::vector<ports::AllocationRow>{{"LAMP", batchref}});
    }
}

TEMPLATE_LIST_TEST_CASE("contract: unknown products and batches are nullptr", "[contract]", Adapters) {
    TestType adapter;
    seed(adapter);
    auto uow = adapter.factory()();
    CHECK(uow.products().get("NOPE") == nullptr);
    CHECK(uow.products().get_for_order("NOPE", "o1") == nullptr);
    CHECK(uow.products().get_by_batchref("NOPE") == nullptr);
    CHECK(uow.products().seen().empty());
}

TEMPLATE_LIST_TEST_CASE("contract: the repository tracks what it handed out, once each", "[contract]", Adapters) {
    TestType adapter;
    seed(adapter);
    seed(adapter, "DESK");
    auto uow = adapter.factory()();
    Product* lamp = uow.products().get("LAMP");
    CHECK(uow.products().get_by_batchref("LAMP-b2") == lamp);
    CHECK(uow.products().get_for_order("LAMP", "o9") == lamp);
    Product* desk = uow.products().get_by_batchref("DESK-b1");
    Product& chair = uow.products().add(Product("CHAIR"));
    std::span<Product* const> seen = uow.products().seen();
    CHECK(std::vector<Product*>(seen.begin(), seen.end()) == std::vector<Product*>{lamp, desk, &chair});
}

TEMPLATE_LIST_TEST_CASE("contract: a batch added to an existing product is found by reference", "[contract]",
                        Adapters) {
    TestType adapter;
    seed(adapter);
    {
        auto uow = adapter.factory()();
        uow.products().get("LAMP")->add_batch(Batch("LAMP-b3", "LAMP", 7, day(1)));
        CHECK(uow.products().get_by_batchref("LAMP-b3") != nullptr);  // before commit, too
        uow.commit();
    }
    auto uow = adapter.factory()();
    Product* lamp = uow.products().get_by_batchref("LAMP-b3");
    REQUIRE(lamp != nullptr);
    CHECK(lamp->batch("LAMP-b3")->eta() == day(1));
    // Shipment preference is rebuilt on load: b3 (Jan 1) comes before b2 (Jan 3) once b1 is full.
    lamp->allocate(OrderLine{"big", "LAMP", 100});
    CHECK(lamp->allocate(OrderLine{"next", "LAMP", 1}) == "LAMP-b3");
}

TEMPLATE_LIST_TEST_CASE("contract: a unit of work can commit more than once", "[contract]", Adapters) {
    TestType adapter;
    seed(adapter);
    {
        auto uow = adapter.factory()();
        Product* lamp = uow.products().get("LAMP");
        lamp->allocate(OrderLine{"o1", "LAMP", 1});
        uow.commit();
        lamp->allocate(OrderLine{"o2", "LAMP", 1});
        uow.commit();
        lamp->allocate(OrderLine{"o3", "LAMP", 1});  // rolled back
    }
    Product lamp = reload(adapter);
    CHECK(lamp.version_number() == 4);
    CHECK(lamp.batch("LAMP-b1")->available_quantity() == 98);
}

TEMPLATE_LIST_TEST_CASE("contract: the read model adds, replaces, removes and lists rows in order", "[contract]",
                        Adapters) {
    TestType adapter;
    auto& view = adapter.view();
    CHECK(view.allocations("o1").empty());
    view.add("o1", "LAMP", "b1");
    view.add("o1", "DESK", "b7");
    view.add("o2", "LAMP", "b1");
    view.add("o1", "DESK", "b7");  // the same row again: still one
    CHECK(view.allocations("o1") == std::vector<ports::AllocationRow>{{"LAMP", "b1"}, {"DESK", "b7"}});
    view.remove("o1", "LAMP");
    view.remove("o1", "CHAIR");  // nothing to remove: fine
    CHECK(view.allocations("o1") == std::vector<ports::AllocationRow>{{"DESK", "b7"}});
    view.add("o1", "DESK", "b8");  // reallocated: the row follows
    CHECK(view.allocations("o1") == std::vector<ports::AllocationRow>{{"DESK", "b8"}});
    CHECK(view.allocations("o2") == std::vector<ports::AllocationRow>{{"LAMP", "b1"}});
}

TEMPLATE_LIST_TEST_CASE("contract: read-model changes through the unit of work are stored with its commit",
                        "[contract]", Adapters) {
    TestType adapter;
    seed(adapter);
    {
        auto uow = adapter.factory()();
        uow.products().get_for_order("LAMP", "o1")->allocate(OrderLine{"o1", "LAMP", 1});
        uow.allocations().add("o1", "LAMP", "LAMP-b1");
        // The unit of work sees its own pending rows; nobody else does until it commits.
        CHECK(uow.allocations().allocations("o1") == std::vector<ports::AllocationRow>{{"LAMP", "LAMP-b1"}});
        uow.commit();
    }
    CHECK(adapter.view().allocations("o1") == std::vector<ports::AllocationRow>{{"LAMP", "LAMP-b1"}});
    {
        auto uow = adapter.factory()();
        uow.allocations().remove("o1", "LAMP");
        uow.allocations().add("o2", "LAMP", "LAMP-b2");
        CHECK(uow.allocations().allocations("o1").empty());
    }  // rolled back
    CHECK(adapter.view().allocations("o1") == std::vector<ports::AllocationRow>{{"LAMP", "LAMP-b1"}});
    CHECK(adapter.view().allocations("o2").empty());
    {
        auto uow = adapter.factory()();
        uow.allocations().add("o3", "LAMP", "LAMP-b1");
        uow.rollback();
        uow.commit();  // nothing left to store
    }
    CHECK(adapter.view().allocations("o3").empty());
}

TEMPLATE_LIST_TEST_CASE("contract: rolling back to a savepoint undoes what came after it and keeps what came before",
                        "[contract]", Adapters) {
    TestType adapter;
    seed(adapter);
    const std::int64_t seeded = reload(adapter).version_number();
    {
        auto uow = adapter.factory()();
        static_assert(ports::Savepoints<std::remove_cvref_t<decltype(uow)>>);
        uow.products().get_for_order("LAMP", "o1")->allocate(OrderLine{"o1", "LAMP", 10});
        const auto point = uow.savepoint();
        uow.products().get_for_order("LAMP", "o2")->allocate(OrderLine{"o2", "LAMP", 20});
        uow.products().add(Product("DESK")).add_batch(Batch("DESK-b1", "DESK", 5));
        uow.allocations().add("o9", "DESK", "DESK-b1");
        uow.messages().record("message-1");
        uow.rollback_to(point);
        CHECK(uow.products().get("DESK") == nullptr);
        CHECK(uow.allocations().allocations("o9").empty());
        CHECK_FALSE(uow.messages().seen("message-1"));
        uow.products().get_for_order("LAMP", "o3")->allocate(OrderLine{"o3", "LAMP", 5});
        uow.commit();
        const auto events = uow.collect_new_events();
        CHECK(events == std::vector<events::Event>{events::Allocated{"o1", "LAMP", 10, "LAMP-b1"},
                                                   events::Allocated{"o3", "LAMP", 5, "LAMP-b1"}});
    }
    const Product lamp = reload(adapter);
    CHECK(lamp.version_number() == seeded + 2);
    CHECK(lamp.batch("LAMP-b1")->allocated_quantity() == 15);
    CHECK(adapter.view().allocations("o1") == std::vector<ports::AllocationRow>{{"LAMP", "LAMP-b1"}});
    CHECK(adapter.view().allocations("o2").empty());
    CHECK(adapter.view().allocations("o3") == std::vector<ports::AllocationRow>{{"LAMP", "LAMP-b1"}});
    auto uow = adapter.factory()();
    CHECK(uow.products().get("DESK") == nullptr);
    CHECK_FALSE(uow.messages().seen("message-1"));
    std::vector<std::string> stored;
    for (const auto& row : adapter.outbox().undelivered(10)) stored.push_back(std::get<events::Allocated>(row.event).orderid);
    CHECK(stored == std::vector<std::string>{"o1", "o3"});
}

namespace broken {
// Each type misses one requirement of one port.
struct RepositoryWithoutSeen {
    Product& add(Product);
    Product* get(std::string_view);
    Product* get_for_order(std::string_view, std::string_view);
    Product* get_by_batchref(std::string_view);
};
struct RepositoryReturningCopies {
    Product add(Product);
    Product* get(std::string_view);
    Product* get_for_order(std::string_view, std::string_view);
    Product* get_by_batchref(std::string_view);
    std::span<Product* const> seen() const;
};
struct UnitOfWorkWithThrowingRollback {
    UnitOfWorkWithThrowingRollback(const UnitOfWorkWithThrowingRollback&) = delete;
    memory::Repository& products();
    memory::UnitOfWork::View& allocations();
    void commit();
    void rollback();
    std::vector<events::Event> collect_new_events();
    std::vector<ports::OutboxMessage> collect_outbox();
};
struct CopyableUnitOfWork {
    memory::Repository& products();
    memory::UnitOfWork::View& allocations();
    void commit();
    void rollback() noexcept;
    std::vector<events::Event> collect_new_events();
    std::vector<ports::OutboxMessage> collect_outbox();
};
struct UnitOfWorkWithoutOutbox {
    UnitOfWorkWithoutOutbox(const UnitOfWorkWithoutOutbox&) = delete;
    memory::Repository& products();
    memory::UnitOfWork::View& allocations();
    void commit();
    void rollback() noexcept;
    std::vector<events::Event> collect_new_events();
};
struct FactoryOfNonUnits {
    int operator()() const;
};
struct ViewWithoutRemove {
    void add(std::string_view, std::string_view, std::string_view);
    std::vector<ports::AllocationRow> allocations(std::string_view) const;
};
struct NotifierWithWrongArity {
    void send(std::string_view);
};
struct PublisherOfAllocatedOnly {
    void publish(std::string_view, const events::Allocated&);
};
}  // namespace broken

TEST_CASE("contract: a type that misses a requirement does not model the port", "[contract]") {
    STATIC_REQUIRE_FALSE(ports::Repository<broken::RepositoryWithoutSeen>);
    STATIC_REQUIRE_FALSE(ports::Repository<broken::RepositoryReturningCopies>);
    STATIC_REQUIRE_FALSE(ports::UnitOfWork<broken::UnitOfWorkWithThrowingRollback>);
    STATIC_REQUIRE_FALSE(ports::UnitOfWork<broken::CopyableUnitOfWork>);
    STATIC_REQUIRE_FALSE(ports::UnitOfWork<broken::UnitOfWorkWithoutOutbox>);
    STATIC_REQUIRE_FALSE(ports::UnitOfWorkFactory<broken::FactoryOfNonUnits>);
    STATIC_REQUIRE_FALSE(ports::AllocationsView<broken::ViewWithoutRemove>);
    STATIC_REQUIRE_FALSE(ports::Notifier<broken::NotifierWithWrongArity>);
    STATIC_REQUIRE_FALSE(ports::EventPublisher<broken::PublisherOfAllocatedOnly>);
    STATIC_REQUIRE(ports::Notifier<memory::RecordingNotifier>);
    STATIC_REQUIRE(ports::EventPublisher<memory::RecordingPublisher>);
}

TEMPLATE_LIST_TEST_CASE("contract: a handler called without the bus keeps the read model too", "[contract]",
                        Adapters) {
    TestType adapter;
    seed(adapter);
    {
        auto uow = adapter.factory()();
        CHECK(handlers::allocate(commands::Allocate{"o1", "LAMP", 60}, uow) == "LAMP-b1");
    }
    CHECK(adapter.view().allocations("o1") == std::vector<ports::AllocationRow>{{"LAMP", "LAMP-b1"}});
    {
        auto uow = adapter.factory()();
        handlers::change_batch_quantity(commands::ChangeBatchQuantity{"LAMP-b1", 10}, uow);  // deallocates o1
    }
    CHECK(adapter.view().allocations("o1").empty());
}
