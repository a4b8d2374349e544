// Group commit: several commands in one unit of work, each in a savepoint of its own (MessageBus::handle_group),
// and the commands of many threads met in groups (GroupCommit).
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "catch.hpp"
#include "flaky_unit_of_work.hpp"
#include "recording_delivery.hpp"

using namespace allocation;
using allocation::testing::FlakyUnitOfWorkFactory;
using allocation::testing::RaceCounters;
using allocation::testing::RecordingDelivery;

namespace {

/// The bus over the in-memory store, with units of work that count their commits and call a hook before each.
struct GroupSystem {
    GroupSystem() { bus.handle(commands::CreateBatch{"b1", "LAMP", 10, std::nullopt}); }

    memory::Store store;
    RaceCounters counters;
    RecordingDelivery<memory::Outbox> delivery{store.outbox()};
    MessageBus<FlakyUnitOfWorkFactory, decltype(delivery.relay)> bus{FlakyUnitOfWorkFactory{&store, &counters},
                                                                      delivery.relay};

    std::vector<std::string> published_orders() const {
        std::vector<std::string> orders;
        for (const auto& p : delivery.publisher.published()) {
            orders.push_back(std::get<events::Allocated>(p.event).orderid);
        }
        return orders;
    }
};

template <typename E, typename Outcome>
bool failed_with(const Outcome& outcome) {
    if (!outcome.error) return false;
    try {
        std::rethrow_exception(outcome.error);
    } catch (const E&) {
        return true;
    } catch (...) {
        return false;
    }
}

/// Commits that wait, each until the test lets it go: the nth commit to begin is held until release() was called
/// n times.
class CommitGates {
public:
    void enter() {
        std::unique_lock lock(mutex_);
        const int n = entered_++;
        changed_.notify_all();
        changed_.wait(lock, [&] { return released_ > n; });
    }
    void wait_until_entered(int count) {
        std::unique_lock lock(mutex_);
        changed_.wait(lock, [&] { return entered_ >= count; });
    }
    void release() {
        std::lock_guard lock(mutex_);
        ++released_;
        changed_.notify_all();
    }

private:
    std::mutex mutex_;
    std::condition_variable changed_;
    int entered_ = 0;
    int released_ = 0;
};

/// The system whose commits each wait until the test lets them go (`gates`), counted from `commits_before`.
struct GatedSystem : GroupSystem {
    GatedSystem() { counters.before_commit = [this] { gates.enter(); }; }
    CommitGates gates;
    const int commits_before = counters.commits;
};

}  // namespace

TEST_CASE("a group commits once; each message gets its own answer, and one that fails takes back only itself") {
    GroupSystem sys;
    const int commits_before = sys.counters.commits;
    const std::vector<Message> group{
        commands::Allocate{"o1", "LAMP", 4},
        commands::Allocate{"o2", "NOPE", 1},  // an unknown SKU
        commands::Allocate{"o1", "LAMP", 5},  // another quantity for o1, whose line the first message allocated
        commands::Allocate{"o3", "LAMP", 6},
        commands::Allocate{"o4", "LAMP", 1},  // out of stock: an answer, not a failure
    };
    const auto outcomes = sys.bus.handle_group(group);

    REQUIRE(outcomes.size() == 5);
    CHECK(outcomes[0].result == "b1");
    CHECK(failed_with<InvalidSku>(outcomes[1]));
    CHECK(failed_with<DuplicateLine>(outcomes[2]));
    CHECK(outcomes[3].result == "b1");
    CHECK_FALSE(outcomes[4].result.has_value());
    CHECK_FALSE(outcomes[4].error);
    CHECK(sys.counters.commits == commits_before + 1);

    // What the group stored and handed over is that of the messages that committed, in order.
    CHECK(sys.published_orders() == std::vector<std::string>{"o1", "o3"});
    CHECK(sys.delivery.notifier.sent().size() == 1);
    CHECK(views::allocations("o1", sys.store.allocations()) == std::vector<ports::AllocationRow>{{"LAMP", "b1"}});
    CHECK(views::allocations("o2", sys.store.allocations()).empty());
    auto uow = memory::UnitOfWorkFactory(sys.store)();
    const Product* lamp = uow.products().get("LAMP");
    REQUIRE(lamp != nullptr);
    CHECK(lamp->version_number() == 3);  // the batch, then two allocations
    CHECK(lamp->batch("b1")->available_quantity() == 0);
}

TEST_CASE("a message that fails after changing a product takes back its own changes, and no one else's") {
    GroupSystem sys;
    sys.bus.handle(commands::CreateBatch{"b2", "LAMP", 5, std::nullopt});
    const std::vector<Message> group{
        commands::Allocate{"o1", "LAMP", 3},
        commands::CreateBatch{"b3", "DESK", 5, std::nullopt},  // creates the product DESK
        commands::CreateBatch{"b3", "DESK", 5, std::nullopt},  // the same reference again
        commands::CreateBatch{"b4", "CHAIR", 5, std::nullopt},
    };
    const auto outcomes = sys.bus.handle_group(group);
    CHECK(outcomes[0].result == "b1");
    CHECK_FALSE(outcomes[1].error);
    CHECK(failed_with<DuplicateBatch>(outcomes[2]));
    CHECK_FALSE(outcomes[3].error);
    auto uow = memory::UnitOfWorkFactory(sys.store)();
    CHECK(uow.products().get("DESK")->batches().size() == 1);
    CHECK(uow.products().get("CHAIR") != nullptr);
}

TEST_CASE("when the group's commit fails, each message is handled alone, so none fails for another's sake") {
    GroupSystem sys;
    const int commits_before = sys.counters.commits;
    sys.counters.commits_to_fail = 1;
    const std::vector<Message> group{commands::Allocate{"o1", "LAMP", 4}, commands::Allocate{"o2", "LAMP", 3}};
    const auto outcomes = sys.bus.handle_group(group);
    CHECK(outcomes[0].result == "b1");
    CHECK(outcomes[1].result == "b1");
    CHECK(sys.counters.commits == commits_before + 2);
    CHECK(sys.published_orders() == std::vector<std::string>{"o1", "o2"});
}

TEST_CASE("group commit from several threads: a lone command commits at once; those arriving meanwhile commit "
          "together, each answered only after that commit", "[threads]") {
    GatedSystem sys;
    std::vector<std::size_t> groups;  // written by the thread that ran each group, read once all are joined
    std::mutex groups_mutex;
    GroupCommit grouped(sys.bus, 64, [&](std::size_t commands) {
        std::lock_guard lock(groups_mutex);
        groups.push_back(commands);
    });

    std::atomic<int> answered{0};
    std::vector<std::optional<std::string>> answers(4);
    auto allocate = [&](int i) {
        answers[i] = grouped.handle(commands::Allocate{"o" + std::to_string(i), "LAMP", 1});
        ++answered;
    };
    std::vector<std::jthread> clients;
    clients.emplace_back(allocate, 0);
    sys.gates.wait_until_entered(1);  // the first command found nobody committing: it commits alone, at once
    for (int i = 1; i < 4; ++i) clients.emplace_back(allocate, i);
    while (grouped.waiting() < 4) std::this_thread::yield();  // the three others queue behind it
    CHECK(answered == 0);     // its commit has not returned: no answer yet

    sys.gates.release();
    sys.gates.wait_until_entered(2);  // the three queued run as one group, in one commit
    while (answered < 1) std::this_thread::yield();
    CHECK(answered == 1);     // the first is answered; the group's commit has not returned
    sys.gates.release();
    clients.clear();          // joins
    CHECK(answered == 4);
    CHECK(sys.counters.commits == sys.commits_before + 2);
    CHECK(groups == std::vector<std::size_t>{1, 3});
    for (const auto& answer : answers) CHECK(answer == "b1");
}

TEST_CASE("group commit from several threads: each caller gets its own failure, and a group holds at most "
          "max_group commands", "[threads]") {
    GatedSystem sys;
    GroupCommit grouped(sys.bus, 2);

    std::atomic<int> failures{0}, allocated{0};
    auto allocate = [&](std::string orderid, std::string sku) {
        try {
            if (grouped.handle(commands::Allocate{orderid, sku, 1})) ++allocated;
        } catch (const InvalidSku&) {
            ++failures;
        }
    };
    std::vector<std::jthread> clients;
    clients.emplace_back(allocate, "o1", "LAMP");
    sys.gates.wait_until_entered(1);
    clients.emplace_back(allocate, "o2", "NOPE");
    while (grouped.waiting() < 2) std::this_thread::yield();
    clients.emplace_back(allocate, "o3", "LAMP");
    while (grouped.waiting() < 3) std::this_thread::yield();
    clients.emplace_back(allocate, "o4", "LAMP");
    while (grouped.waiting() < 4) std::this_thread::yield();
    for (int i = 0; i < 3; ++i) sys.gates.release();  // the lone one, then a group of two, then the last one alone
    clients.clear();
    CHECK(allocated == 3);
    CHECK(failures == 1);
    CHECK(sys.counters.commits == sys.commits_before + 3);
}
