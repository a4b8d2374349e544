// A unit of work that loses the optimistic-concurrency race a given number of times, for retry tests.
#pragma once

#include <atomic>
#include <memory>
#include <vector>

#include "allocation/adapters/memory/memory.hpp"
#include "allocation/domain/errors.hpp"

namespace allocation::testing {

struct RaceCounters {
    std::atomic<int> commits_to_fail{0};
    std::atomic<int> units_made{0};
};

class FlakyUnitOfWork {
public:
    FlakyUnitOfWork(memory::Store& store, RaceCounters& counters) : inner_(store), counters_(counters) {}

    memory::Repository& products() { return inner_.products(); }
    memory::UnitOfWork::View& allocations() { return inner_.allocations(); }
    void commit() {
        if (counters_.commits_to_fail.fetch_sub(1) > 0) throw ConcurrencyError("simulated lost race");
        inner_.commit();
    }
    void rollback() noexcept { inner_.rollback(); }
    std::vector<events::Event> collect_new_events() { return inner_.collect_new_events(); }
    std::vector<ports::OutboxMessage> collect_outbox() { return inner_.collect_outbox(); }

private:
    memory::UnitOfWork inner_;
    RaceCounters& counters_;
};

static_assert(ports::UnitOfWork<FlakyUnitOfWork>);

struct FlakyUnitOfWorkFactory {
    memory::Store* store;
    RaceCounters* counters;
    FlakyUnitOfWork operator()() const {
        ++counters->units_made;
        return FlakyUnitOfWork(*store, *counters);
    }
};

static_assert(ports::UnitOfWorkFactory<FlakyUnitOfWorkFactory>);

}  // namespace allocation::testing
