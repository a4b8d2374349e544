// A unit of work that loses the optimistic-concurrency race a given number of times, for retry tests, and that
// calls a hook before each commit, for tests of what happens meanwhile.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <vector>

#include "allocation/adapters/memory/memory.hpp"
#include "allocation/domain/errors.hpp"

namespace allocation::testing {

struct RaceCounters {
    std::atomic<int> commits_to_fail{0};
    std::atomic<int> units_made{0};
    std::atomic<int> commits{0};  // commits that stored
    std::function<void()> before_commit = {};  // set before any unit of work is made
};

class FlakyUnitOfWork {
public:
    FlakyUnitOfWork(memory::Store& store, RaceCounters& counters) : inner_(store), counters_(counters) {}

    memory::Repository& products() { return inner_.products(); }
    memory::UnitOfWork::View& allocations() { return inner_.allocations(); }
    void commit() {
        if (counters_.before_commit) counters_.before_commit();
        if (counters_.commits_to_fail.fetch_sub(1) > 0) throw ConcurrencyError("simulated lost race");
        inner_.commit();
        ++counters_.commits;
    }
    void rollback() noexcept { inner_.rollback(); }
    memory::UnitOfWork::Savepoint savepoint() const { return inner_.savepoint(); }
    void rollback_to(const memory::UnitOfWork::Savepoint& point) noexcept { inner_.rollback_to(point); }
    std::vector<events::Event> collect_new_events() { return inner_.collect_new_events(); }
    std::vector<ports::OutboxMessage> collect_outbox() { return inner_.collect_outbox(); }

private:
    memory::UnitOfWork inner_;
    RaceCounters& counters_;
};

static_assert(ports::Savepoints<FlakyUnitOfWork>);

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
