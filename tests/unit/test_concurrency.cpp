// One bus, many threads: every message gets its own unit of work, so nothing is oversold, lost or doubled.
#include <atomic>
#include <chrono>
#include <future>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "catch.hpp"
#include "in_memory_system.hpp"

using namespace allocation;
using allocation::testing::InMemorySystem;
using allocation::testing::today;

TEST_CASE("many threads through one bus never oversell, lose or double an allocation", "[threads]") {
    std::atomic<int> handler_failures{0};
    BusOptions options;
    options.on_error = [&](const events::Event&, std::string_view, const std::exception&) { ++handler_failures; };
    InMemorySystem sys(options);
    const std::vector<std::string> skus{"LAMP", "DESK"};
    for (const auto& sku : skus) {
        sys.bus.handle(commands::CreateBatch{sku + "-warehouse", sku, 300, std::nullopt});
        sys.bus.handle(commands::CreateBatch{sku + "-ship", sku, 200, today()});
    }

    constexpr int threads = 8;
    constexpr int orders_per_thread = 100;  // 800 orders x 2 skus x qty 1 = 1600 units wanted, 1000 in stock
    std::atomic<int> acknowledged{0};
    std::atomic<int> refused{0};
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
        workers.emplace_back([&, t] {
            for (int i = 0; i < orders_per_thread; ++i) {
                // Threads t and t^1 send the same orders, so every line is sent twice, concurrently.
                std::string orderid = "order-" + std::to_string((t / 2) * orders_per_thread + i);
                for (const auto& sku : skus) {
                    auto ref = sys.bus.handle(commands::Allocate{orderid, sku, 1});
                    (ref ? acknowledged : refused) += 1;
                }
            }
        });
    }
    for (auto& w : workers) w.join();

    CHECK(handler_failures == 0);
    int allocated_units = 0;
    for (const auto& sku : skus) {
        auto product = sys.product(sku);
        REQUIRE(product);
        for (const Batch& batch : product->batches()) {
            CHECK(batch.available_quantity() >= 0);
            CHECK(static_cast<int>(batch.allocations().size()) == batch.allocated_quantity());
            allocated_units += batch.allocated_quantity();
        }
        // One version bump per batch added, one per line allocated.
        CHECK(product->version_number() == 2 + product->batches()[0].allocated_quantity() +
                                               product->batches()[1].allocated_quantity());
    }
    // 400 distinct orders x 2 skus = 800 distinct lines, all of which fit in the 1000 units.
    CHECK(allocated_units == 800);
    CHECK(acknowledged == 1600);  // duplicates are acknowledged with the batch that already holds them
    CHECK(refused == 0);
    CHECK(sys.publisher.published().size() == 800);

    for (int o = 0; o < threads / 2 * orders_per_thread; ++o) {
        auto rows = views::allocations("order-" + std::to_string(o), sys.view);
        REQUIRE(rows.size() == 2);
        CHECK(rows[0].sku != rows[1].sku);
    }
}

TEST_CASE("threads competing for scarce stock never oversell", "[threads]") {
    InMemorySystem sys;
    sys.bus.handle(commands::CreateBatch{"only", "RARE", 50, std::nullopt});
    std::atomic<int> acknowledged{0};
    std::vector<std::thread> workers;
    for (int t = 0; t < 4; ++t) {
        workers.emplace_back([&, t] {
            for (int i = 0; i < 40; ++i) {
                if (sys.bus.handle(commands::Allocate{fmt::format("t{}-{}", t, i), "RARE", 1})) ++acknowledged;
            }
        });
    }
    for (auto& w : workers) w.join();
    CHECK(acknowledged == 50);
    CHECK(sys.product("RARE")->batch("only")->available_quantity() == 0);
    CHECK(sys.notifier.sent().size() == 110);
}

TEST_CASE("a second unit of work on a thread that has one open fails clearly instead of deadlocking") {
    // The attempt runs on a thread of its own, so that a deadlock fails this test instead of hanging it; the
    // state is shared, because a deadlocked thread never lets go of it.
    auto store = std::make_shared<memory::Store>();
    auto outcome = std::make_shared<std::promise<std::string>>();
    auto answer = outcome->get_future();
    std::thread([store, outcome] {
        auto first = memory::UnitOfWorkFactory(*store)();
        try {
            auto second = memory::UnitOfWorkFactory(*store)();
            outcome->set_value("opened a second unit of work");
        } catch (const StorageError& e) {
            outcome->set_value(e.what());
        }
    }).detach();
    REQUIRE(answer.wait_for(std::chrono::seconds(10)) == std::future_status::ready);
    CHECK_THAT(answer.get(), Catch::Contains("another unit of work of this thread is still open"));
    // The first one's end lets the next begin, on this thread as on any other.
    memory::UnitOfWorkFactory factory(*store);
    { auto uow = factory(); }
    auto again = factory();
    CHECK(again.products().seen().empty());
}
