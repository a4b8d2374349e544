// A message bus over the in-memory adapters, with everything a test wants to look at.
#pragma once

#include <chrono>
#include <optional>

#include "allocation/adapters/memory/memory.hpp"
#include "allocation/allocation.hpp"
#include "recording_delivery.hpp"

namespace allocation::testing {

using namespace std::chrono_literals;

inline Date today() { return std::chrono::year{2026} / std::chrono::November / 21; }
inline Date tomorrow() { return std::chrono::sys_days{today()} + std::chrono::days{1}; }
inline Date later() { return std::chrono::sys_days{today()} + std::chrono::days{10}; }

/// The book's test setup: the in-memory adapters, a relay over their outbox with recording outbound handlers, and
/// the bus that hands each commit's rows to it.
struct InMemorySystem {
    explicit InMemorySystem(BusOptions options = {})
        : bus(bootstrap(memory::UnitOfWorkFactory(store), delivery.relay, std::move(options))) {}

    memory::Store store;
    memory::AllocationsView& view = store.allocations();
    RecordingDelivery<memory::Outbox> delivery{store.outbox()};
    memory::RecordingNotifier& notifier = delivery.notifier;
    memory::RecordingPublisher& publisher = delivery.publisher;
    MessageBus<memory::UnitOfWorkFactory, decltype(delivery.relay)> bus;

    /// The committed state of a product, read through a fresh unit of work (nullopt when unknown).
    std::optional<Product> product(std::string_view sku) {
        auto uow = memory::UnitOfWorkFactory(store)();
        Product* p = uow.products().get(sku);
        return p ? std::optional<Product>(*p) : std::nullopt;
    }
};

}  // namespace allocation::testing
