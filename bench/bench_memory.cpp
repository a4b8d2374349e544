// Allocation throughput through the message bus on the in-memory adapters, by batches per product.
#include <benchmark/benchmark.h>

#include <atomic>
#include <charconv>
#include <chrono>
#include <string>

#include "counting_adapters.hpp"
#include "allocation/adapters/memory/memory.hpp"
#include "allocation/allocation.hpp"

namespace {

using namespace allocation;

// A fixed count, so that every run states the history it measured: from `history` allocations
// before the first timed one to `history + timed_allocations` after the last.
constexpr long timed_allocations = 200'000;

using allocation::bench::CountingNotifier;
using allocation::bench::CountingPublisher;

std::string order_id(long n) {
    char buffer[32] = "order-";
    auto result = std::to_chars(buffer + 6, buffer + sizeof buffer, n);
    return std::string(buffer, result.ptr);
}

// Arg(0): batches per product. Arg(1): 0 = the most preferred batch has stock;
// 1 = only the least preferred one has (every allocation walks past all the others).
// Arg(2): allocations made through the bus before the timed loop (the history the product and the
// view already hold); the timed loop then adds `timed_allocations` more.
void BM_allocate_through_bus(benchmark::State& state) {
    const auto batches = static_cast<int>(state.range(0));
    const bool worst_case = state.range(1) != 0;
    const long history = state.range(2);

    memory::Store store;
    CountingNotifier notifier;
    CountingPublisher publisher;
    Relay relay(store.outbox(), handlers::Outbound(notifier, publisher));
    auto bus = bootstrap(memory::UnitOfWorkFactory(store), relay);

    const auto start = std::chrono::year{2027} / std::chrono::January / 1;
    for (int b = 0; b < batches; ++b) {
        const bool has_stock = !worst_case || b == batches - 1;
        std::optional<Date> eta;
        if (b > 0) eta = std::chrono::sys_days{start} + std::chrono::days{b};
        bus.handle(commands::CreateBatch{"batch-" + std::to_string(b), "SKU", has_stock ? max_quantity : 1, eta});
    }
    if (worst_case) {  // fill every batch but the last
        for (int b = 0; b < batches - 1; ++b) bus.handle(commands::Allocate{"filler-" + std::to_string(b), "SKU", 1});
    }

    long n = 0;
    while (n < history) bus.handle(commands::Allocate{order_id(n++), "SKU", 1});

    for (auto _ : state) {
        auto ref = bus.handle(commands::Allocate{order_id(n++), "SKU", 1});
        benchmark::DoNotOptimize(ref);
    }
    state.SetItemsProcessed(state.iterations());
    state.counters["history"] = static_cast<double>(history);
    state.counters["allocations/s"] = benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
    if (publisher.published.load() < n) state.SkipWithError("an allocation was not published");
}

}  // namespace

BENCHMARK(BM_allocate_through_bus)
    ->ArgNames({"batches", "worst_case", "history"})
    ->Args({10, 0, 0})
    ->Args({100, 0, 0})
    ->Args({10, 1, 0})
    ->Args({100, 1, 0})
    ->Args({10, 0, 1'000'000})
    ->Args({100, 0, 1'000'000})
    ->Args({10, 1, 1'000'000})
    ->Args({100, 1, 1'000'000})
    ->Iterations(timed_allocations)
    ->Unit(benchmark::kNanosecond);

BENCHMARK_MAIN();
