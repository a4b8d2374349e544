// The book's story, on SQLite (a file, by default quickstart.db) or on the in-memory adapters:
// two batches, an allocation, a quantity change and the reallocation it causes, with every event printed.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <exception>
#include <initializer_list>
#include <string>

#include <fmt/format.h>

#include "allocation/adapters/memory/memory.hpp"
#include "allocation/allocation.hpp"
#ifdef QUICKSTART_WITH_SQLITE
#include "allocation/adapters/sqlite/sqlite.hpp"
#endif

namespace {

using namespace allocation;

template <ports::UnitOfWorkFactory Factory>
void show_product(Factory& uow_factory, std::string_view sku) {
    const auto stock = views::product(sku, uow_factory);
    if (!stock) return;
    fmt::print("  {} (version {}):\n", stock->sku, stock->version);
    for (const views::BatchStock& batch : stock->batches) {
        fmt::print("    {:<12} eta {:<10} purchased {:>3} available {:>3}\n", batch.ref,
                   batch.eta ? to_string(*batch.eta) : "warehouse", batch.purchased, batch.available);
    }
}

template <ports::AllocationsView View>
void show_allocations(const View& view, std::initializer_list<const char*> orderids) {
    for (const char* orderid : orderids) {
        auto rows = views::allocations(orderid, view);
        fmt::print("  {}:", orderid);
        if (rows.empty()) fmt::print(" (none)");
        for (const auto& row : rows) fmt::print(" {} -> {}", row.sku, row.batchref);
        fmt::print("\n");
    }
}

template <ports::UnitOfWorkFactory Factory, ports::AllocationsView View, ports::Outbox Outbox>
int play_story(Factory uow_factory, View& view, Outbox& outbox) {
    using namespace std::chrono;

    if (uow_factory().products().get("SMALL-TABLE") != nullptr) {
        fmt::print(stderr, "quickstart: the database already holds the story's products; pass another --db path\n");
        return 1;
    }
    // What leaves the process leaves through the outbox: each commit's rows go to the outbound handlers at once.
    memory::RecordingNotifier notifier;
    memory::RecordingPublisher publisher;
    Relay relay(outbox, handlers::Outbound(notifier, publisher));
    auto bus = bootstrap(uow_factory, relay);

    // Print every event as the bus handles it.
    bus.template subscribe<events::Allocated>([](const events::Allocated& e) { fmt::print("  event: {}\n", e); });
    bus.template subscribe<events::Deallocated>([](const events::Deallocated& e) { fmt::print("  event: {}\n", e); });
    bus.template subscribe<events::OutOfStock>([](const events::OutOfStock& e) { fmt::print("  event: {}\n", e); });

    const year_month_day next_week = sys_days{floor<days>(system_clock::now())} + days{7};

    fmt::print("1. Two batches of SMALL-TABLE arrive: 20 in the warehouse, 50 on a ship due {}.\n",
               to_string(next_week));
    bus.handle(commands::CreateBatch{"warehouse-1", "SMALL-TABLE", 20, std::nullopt});
    bus.handle(commands::CreateBatch{"shipment-1", "SMALL-TABLE", 50, next_week});
    show_product(uow_factory, "SMALL-TABLE");

    fmt::print("2. Order order-1 wants 12 tables: warehouse stock is preferred.\n");
    auto batchref = bus.handle(commands::Allocate{"order-1", "SMALL-TABLE", 12});
    fmt::print("  allocated to {}\n", batchref.value_or("nothing"));

    fmt::print("3. Order order-2 wants 6 more.\n");
    bus.handle(commands::Allocate{"order-2", "SMALL-TABLE", 6});
    show_product(uow_factory, "SMALL-TABLE");

    fmt::print("4. Five warehouse tables turn out to be broken: warehouse-1 drops to 15.\n");
    fmt::print("   Lines that no longer fit are deallocated and allocated again, to the shipment.\n");
    bus.handle(commands::ChangeBatchQuantity{"warehouse-1", 15});
    show_product(uow_factory, "SMALL-TABLE");

    fmt::print("5. Order order-3 wants 100: nothing can take it.\n");
    auto none = bus.handle(commands::Allocate{"order-3", "SMALL-TABLE", 100});
    fmt::print("  allocated to {}\n", none.value_or("nothing"));
    for (const auto& sent : notifier.sent()) fmt::print("  notification to {}: {}\n", sent.destination, sent.message);

    fmt::print("6. The read model answers where each order went:\n");
    show_allocations(view, {"order-1", "order-2", "order-3"});
    fmt::print("{} events were published on line_allocated.\n", publisher.published().size());
    return 0;
}

constexpr const char* usage =
    "usage: quickstart [--db PATH | --memory]\n"
    "  --db PATH   SQLite database file to create and use (default: quickstart.db)\n"
    "  --memory    use the in-memory adapters instead\n";

}  // namespace

int main(int argc, char** argv) try {
    std::string db_path = "quickstart.db";
    bool in_memory = false;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--memory") == 0) {
            in_memory = true;
        } else if (std::strcmp(argv[i], "--db") == 0 && i + 1 < argc) {
            db_path = argv[++i];
        } else {
            fmt::print(std::strcmp(argv[i], "--help") == 0 ? stdout : stderr, "{}", usage);
            return std::strcmp(argv[i], "--help") == 0 ? 0 : 2;
        }
    }
#ifdef QUICKSTART_WITH_SQLITE
    if (!in_memory) {
        fmt::print("Using the SQLite database {}\n", db_path);
        sqlite::Database db(sqlite::Options{.path = db_path});
        sqlite::AllocationsView view(db);
        sqlite::Outbox outbox(db);
        return play_story(sqlite::UnitOfWorkFactory(db), view, outbox);
    }
#else
    if (!in_memory) fmt::print("Built without SQLite: using the in-memory adapters\n");
#endif
    memory::Store store;
    return play_story(memory::UnitOfWorkFactory(store), store.allocations(), store.outbox());
} catch (const std::exception& error) {
    fmt::print(stderr, "quickstart: {}\n", error.what());
    return 1;
}
