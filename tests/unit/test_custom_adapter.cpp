// The README's custom repository, plugged into a unit of work of its own and driven through the bus.
#include <algorithm>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "catch.hpp"
#include "in_memory_system.hpp"

// --- as in README.md, "Plug in your own adapter" ---
#include <allocation/allocation.hpp>

#include <algorithm>
#include <map>
#include <span>
#include <string>
#include <vector>

// Keeps whole products in a std::map, so every lookup has every line loaded.
class MapRepository {
public:
    allocation::Product& add(allocation::Product product) {
        std::string sku = product.sku();
        auto [stored, is_new] = products_.try_emplace(sku, std::move(product));
        if (!is_new) throw allocation::Error("Product " + sku + " already exists");
        return track(stored->second);
    }
    allocation::Product* get(std::string_view sku) {
        auto it = products_.find(sku);
        return it == products_.end() ? nullptr : &track(it->second);
    }
    allocation::Product* get_for_order(std::string_view sku, std::string_view /*orderid*/) { return get(sku); }
    allocation::Product* get_by_batchref(std::string_view reference) {
        for (auto& [sku, product] : products_) {
            if (product.batch(reference) != nullptr) return &track(product);
        }
        return nullptr;
    }
    std::span<allocation::Product* const> seen() const { return seen_; }

private:
    allocation::Product& track(allocation::Product& product) {
        if (std::find(seen_.begin(), seen_.end(), &product) == seen_.end()) seen_.push_back(&product);
        product.number_events_from(sequence_);  // so that a commit hands over all their events in the order raised
        return product;
    }
    std::map<std::string, allocation::Product, std::less<>> products_;
    std::vector<allocation::Product*> seen_;
    allocation::EventSequence sequence_;
};

static_assert(allocation::ports::Repository<MapRepository>);
// --- end of the README's example ---

namespace {

// A single-threaded unit of work over one MapRepository, a read model and the in-memory outbox: commit keeps,
// rollback undoes.
class MapUnitOfWork {
public:
    using View = allocation::PendingAllocationsView<const allocation::memory::AllocationsView&>;

    MapUnitOfWork(MapRepository& repository, allocation::memory::AllocationsView& view, allocation::memory::Outbox& outbox)
        : repository_(repository), committed_view_(view), view_(view), outbox_(outbox) {}
    MapUnitOfWork(const MapUnitOfWork&) = delete;
    MapUnitOfWork& operator=(const MapUnitOfWork&) = delete;
    ~MapUnitOfWork() { rollback(); }

    MapRepository& products() { return repository_; }
    View& allocations() { return view_; }
    void commit() {
        outbox_.append(repository_.seen(), allocation::ports::OutboxClock::now(), committed_rows_);  // what leaves
        view_.changes().apply_to(committed_view_);
        allocation::project_events(repository_.seen(), committed_view_);  // the read model follows the events
        allocation::mark_committed(repository_.seen(), events_);
        view_.changes().clear();
    }
    void rollback() noexcept {
        for (allocation::Product* product : repository_.seen()) product->discard_changes();
        view_.changes().clear();
    }
    std::vector<allocation::events::Event> collect_new_events() { return std::exchange(events_, {}); }
    std::vector<allocation::ports::OutboxMessage> collect_outbox() { return std::exchange(committed_rows_, {}); }

private:
    MapRepository& repository_;
    allocation::memory::AllocationsView& committed_view_;
    View view_;
    allocation::memory::Outbox& outbox_;
    std::vector<allocation::events::Event> events_;
    std::vector<allocation::ports::OutboxMessage> committed_rows_;
};

struct MapUnitOfWorkFactory {
    MapRepository* repository;
    allocation::memory::AllocationsView* view;
    allocation::memory::Outbox* outbox;
    MapUnitOfWork operator()() const { return MapUnitOfWork(*repository, *view, *outbox); }
};

static_assert(allocation::ports::UnitOfWorkFactory<MapUnitOfWorkFactory>);

}  // namespace

TEST_CASE("a user's own repository plugs into the bus") {
    using namespace allocation;
    MapRepository repository;
    memory::AllocationsView view;
    memory::Outbox outbox;
    memory::RecordingNotifier notifier;
    memory::RecordingPublisher publisher;
    Relay relay(outbox, handlers::Outbound(notifier, publisher));
    auto bus = bootstrap(MapUnitOfWorkFactory{&repository, &view, &outbox}, relay);

    bus.handle(commands::CreateBatch{"b1", "LAMP", 10, std::nullopt});
    CHECK(bus.handle(commands::Allocate{"o1", "LAMP", 4}) == "b1");
    CHECK_THROWS_AS(bus.handle(commands::Allocate{"o2", "DESK", 4}), InvalidSku);
    CHECK(views::allocations("o1", view) == std::vector<ports::AllocationRow>{{"LAMP", "b1"}});
    CHECK(repository.get("LAMP")->batch("b1")->available_quantity() == 6);
    CHECK(publisher.published().size() == 1);  // through its outbox, at once
    CHECK(outbox.backlog() == ports::OutboxBacklog{});
}

TEST_CASE("a unit of work that records no message ids still works, and refuses a message id") {
    using namespace allocation;
    STATIC_REQUIRE_FALSE(ports::RecordsProcessedMessages<MapUnitOfWork>);
    MapRepository repository;
    memory::AllocationsView view;
    memory::Outbox outbox;
    memory::RecordingNotifier notifier;
    memory::RecordingPublisher publisher;
    Relay relay(outbox, handlers::Outbound(notifier, publisher));
    auto bus = bootstrap(MapUnitOfWorkFactory{&repository, &view, &outbox}, relay);
    bus.handle(commands::CreateBatch{"b1", "LAMP", 10, std::nullopt});
    bus.handle(commands::ChangeBatchQuantity{"b1", 8});
    CHECK_THROWS_WITH(bus.handle(commands::ChangeBatchQuantity{"b1", 5, "m1"}),
                      "cannot apply message m1 at most once: this storage records no message ids");
    CHECK(repository.get("LAMP")->batch("b1")->purchased_quantity() == 8);
}
