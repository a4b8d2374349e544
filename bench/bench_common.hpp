// What the end-to-end benchmarks share: medians, order ids, the CPU time of a thread.
#pragma once

#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "allocation/allocation.hpp"
#include "counting_adapters.hpp"

namespace allocation::bench {

/// CPU time of this thread (user + system): unlike wall time, it does not count waiting for a core on a busy
/// machine.
inline double cpu_seconds() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

inline double median(std::vector<double> values) {
    std::sort(values.begin(), values.end());
    return values[values.size() / 2];
}

inline std::string order_id(std::string_view prefix, long n) { return std::string(prefix) + std::to_string(n); }

/// Stores product "SKU" with one large batch and `history` allocations, in one unit of work from `factory`.
template <typename Factory>
void store_history(Factory factory, long history) {
    auto uow = factory();
    Product& product = uow.products().add(Product("SKU"));
    product.add_batch(Batch("batch", "SKU", max_quantity));
    for (long i = 0; i < history; ++i) product.allocate(OrderLine{order_id("old-", i), "SKU", 1});
    uow.commit();
}

/// The cost of one allocation into a product with a short and with a long history (`small` and `large`
/// existing allocations, in databases `small_db` and `large_db`), each through a bus of its own over a `Factory`,
/// interleaved in rounds so that drift of the machine hits both alike. With `cold`, a second bus over the second
/// database object on the same data takes every other turn, so every lookup finds its connection's kept product
/// outdated and reads the product afresh. Prints the figures.
template <typename Factory, typename Outbox, typename Database>
void history_figure(Database& small_db, Database& small_db2, Database& large_db, Database& large_db2, long small,
                    long large, int allocations, bool cold, std::string_view setting, std::string_view warm_text,
                    std::string_view cold_text) {
    using Clock = std::chrono::steady_clock;
    CountingNotifier notifier;
    CountingPublisher publisher;
    const handlers::Outbound outbound(notifier, publisher);
    Outbox small_outbox(small_db), small_outbox2(small_db2), large_outbox(large_db), large_outbox2(large_db2);
    Relay small_relay(small_outbox, outbound), small_relay2(small_outbox2, outbound);
    Relay large_relay(large_outbox, outbound), large_relay2(large_outbox2, outbound);
    auto small_bus = bootstrap(Factory(small_db), small_relay);
    auto small_other = bootstrap(Factory(small_db2), small_relay2);
    auto large_bus = bootstrap(Factory(large_db), large_relay);
    auto large_other = bootstrap(Factory(large_db2), large_relay2);
    const int rounds = 20, per_round = std::max(1, allocations / rounds);
    std::vector<double> small_rounds, large_rounds;  // microseconds per allocation, per round
    long n = 0;
    auto run = [&](auto& bus, auto& other, long first) {
        const auto start = Clock::now();
        for (int i = 0; i < per_round; ++i) {
            const commands::Allocate cmd{order_id("new-", first + i), "SKU", 1};
            if (cold && i % 2 == 1) {
                other.handle(cmd);
            } else {
                bus.handle(cmd);
            }
        }
        const std::chrono::duration<double, std::micro> elapsed = Clock::now() - start;
        return elapsed.count() / per_round;
    };
    for (int round = 0; round < rounds; ++round) {
        small_rounds.push_back(run(small_bus, small_other, n));
        large_rounds.push_back(run(large_bus, large_other, n));
        n += per_round;
    }
    // The median round: a checkpoint or another process's burst on the shared cores spoils a round, not the figure.
    const double small_us = median(small_rounds), large_us = median(large_rounds);
    const std::string_view what = cold ? cold_text : warm_text;
    std::printf("\nhistory, %.*s (%.*s, %ld allocations each, interleaved in %d rounds; the median round):\n",
                static_cast<int>(what.size()), what.data(), static_cast<int>(setting.size()), setting.data(), n, rounds);
    std::printf("  %7ld existing allocations: %7.1f us per allocation\n", small, small_us);
    std::printf("  %7ld existing allocations: %7.1f us per allocation\n", large, large_us);
    std::printf("  ratio: %.2fx (target: at most 1.5x)\n", large_us / small_us);
    std::fflush(stdout);
}

}  // namespace allocation::bench
