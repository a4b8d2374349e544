// The consumers' program: allocate through the bus on the in-memory adapters (and see the SQLite one, if any).
#include <cstdio>

#include <allocation/adapters/memory/memory.hpp>
#include <allocation/allocation.hpp>
#ifdef CONSUMER_HAS_SQLITE
#include <allocation/adapters/sqlite/sqlite.hpp>
#endif

int main() {
    using namespace allocation;
    memory::Store store;
    memory::AllocationsView view;
    memory::RecordingNotifier notifier;
    memory::RecordingPublisher publisher;
    auto bus = bootstrap(memory::UnitOfWorkFactory(store), view, notifier, publisher);
    bus.handle(commands::CreateBatch{"b1", "LAMP", 10, std::nullopt});
    auto ref = bus.handle(commands::Allocate{"o1", "LAMP", 3});
    if (!ref || views::allocations("o1", view).size() != 1) return 1;
    std::printf("allocated to %s\n", ref->c_str());
#ifdef CONSUMER_HAS_SQLITE
    static_assert(ports::UnitOfWorkFactory<sqlite::UnitOfWorkFactory>);
#endif
    return 0;
}
