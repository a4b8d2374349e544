// What the outbox and relay tests share: committing one allocation, and the ids of a list of rows.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "allocation/domain/model.hpp"
#include "allocation/outbox.hpp"
#include "allocation/ports/outbox.hpp"
#include "allocation/service_layer/relay.hpp"

namespace allocation::testing {

/// Allocates a line in a unit of work of its own and commits; true when the line found stock (an Allocated
/// row), false when it did not (an OutOfStock row).
template <typename Factory>
bool commit_allocation(Factory factory, const std::string& orderid, const std::string& sku, int qty) {
    auto uow = factory();
    const bool allocated = uow.products().get_for_order(sku, orderid)->allocate(OrderLine{orderid, sku, qty}).has_value();
    uow.commit();
    return allocated;
}

inline std::vector<std::string> ids_of(const std::vector<ports::OutboxMessage>& rows) {
    std::vector<std::string> ids;
    for (const auto& row : rows) ids.push_back(row.id);
    return ids;
}

/// What two relays with batches of two did, taking turns on one database: `a` ran a step, and while it delivered
/// its first row `b` ran one; then `a`, then `b` ran another. The steps in that order (a, b, a, b), and the rows
/// each delivered.
/// A relay's handler that calls whatever function the caller has set by then.
struct ForwardTo {
    const std::function<void(const ports::OutboxMessage&)>* handler;
    void operator()(const ports::OutboxMessage& message) const { (*handler)(message); }
};

template <typename Outbox>
using TestRelay = Relay<Outbox, ForwardTo>;

/// Options for a relay of tests that commit through units of work directly (nobody delivers at once): the clock
/// runs past the handoff, so that committed rows are due.
inline RelayOptions past_handoff(std::string owner, std::size_t batch_size) {
    RelayOptions options;
    options.owner = std::move(owner);
    options.batch_size = batch_size;
    options.clock = [] { return ports::OutboxClock::now() + outbox_handoff; };
    return options;
}

template <typename Outbox>
struct TakenInTurns {
    std::vector<typename TestRelay<Outbox>::Step> steps;
    std::vector<std::string> by_a, by_b;
};

template <typename Outbox>
TakenInTurns<Outbox> relays_taking_turns(Outbox& outbox_a, Outbox& outbox_b) {
    TakenInTurns<Outbox> taken;
    std::optional<typename TestRelay<Outbox>::Step> b_meanwhile;
    std::function<void(const ports::OutboxMessage&)> handle_a, handle_b;
    TestRelay<Outbox> a(outbox_a, ForwardTo{&handle_a}, past_handoff("relay-a", 2));
    TestRelay<Outbox> b(outbox_b, ForwardTo{&handle_b}, past_handoff("relay-b", 2));
    handle_b = [&](const ports::OutboxMessage& m) { taken.by_b.push_back(m.id); };
    handle_a = [&](const ports::OutboxMessage& m) {
        if (taken.by_a.empty()) b_meanwhile = b.run_once();  // while a holds two rows
        taken.by_a.push_back(m.id);
    };
    const auto first = a.run_once();
    taken.steps = {first, b_meanwhile.value_or(typename TestRelay<Outbox>::Step{}), a.run_once(), b.run_once()};
    return taken;
}

/// Runs two relays on their threads, one over each outbox (two connection pools on one database, as two processes
/// would have them), while `allocate(i)` commits allocation i of `rows`; returns, once every row was delivered, how
/// many times each row id was, and stops both.
template <typename Outbox, typename Allocate>
std::map<std::string, int> deliveries_by_two_relays(Outbox& outbox_a, Outbox& outbox_b, int rows, Allocate allocate) {
    std::mutex mutex;
    std::condition_variable all_in;
    std::map<std::string, int> deliveries;  // id -> how many times
    int delivered = 0;
    const std::function<void(const ports::OutboxMessage&)> record = [&](const ports::OutboxMessage& m) {
        std::lock_guard lock(mutex);
        ++deliveries[m.id];
        if (++delivered >= rows) all_in.notify_all();
    };
    RelayOptions options_a = past_handoff("relay-a", 7);
    options_a.poll = std::chrono::milliseconds(1);
    RelayOptions options_b = options_a;
    options_b.owner = "relay-b";
    TestRelay<Outbox> a(outbox_a, ForwardTo{&record}, options_a);
    TestRelay<Outbox> b(outbox_b, ForwardTo{&record}, options_b);
    a.start();
    b.start();
    for (int i = 0; i < rows; ++i) allocate(i);
    {
        std::unique_lock lock(mutex);
        all_in.wait(lock, [&] { return delivered >= rows; });
    }
    a.stop();
    b.stop();
    return deliveries;
}

}  // namespace allocation::testing
