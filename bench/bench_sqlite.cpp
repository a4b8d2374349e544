// End-to-end allocation throughput of the message bus on SQLite (WAL+NORMAL, WAL+FULL, ":memory:"), next to the
// raw floor measured in the same run, and the cost of one allocation as a product's history grows. The rows
// NORMAL/bg and FULL/bg run the adapter with Checkpoint::background (as allocation-server does) against the same
// raw floor, which checkpoints the way SQLite does by default, in the committing connection. The floor writes what
// the adapter's commit writes, the outbox row and the previous row's delivery mark included; "outbox cost" is what
// those two cost the floor itself (the floor without them, in the same run). The "grouped floor" lines give, for
// WAL+NORMAL and WAL+FULL, the same floor written as a group commit writes it: 16 allocations a transaction, each in
// its own SAVEPOINT ... RELEASE, one COMMIT for the 16 (one sync to disk with FULL), beside the floor of one
// transaction an allocation from the same run.
//
// usage: bench_sqlite [allocations per run (default 20000)] [allocations per WAL+FULL run (default 3000)]
//        bench_sqlite floor full|normal N     (the floor alone, with and without the outbox: bench/http/outbox.sh)
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include <time.h>
#include <unistd.h>

#include "bench_common.hpp"
#include "counting_adapters.hpp"
#include "allocation/adapters/sqlite/sqlite.hpp"
#include "allocation/allocation.hpp"
#include "bench_sqlite_raw.hpp"

namespace {

using namespace allocation;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// CPU time (cpu_seconds) is the steadier figure where no fsync is involved (WAL+NORMAL, ":memory:").
using allocation::bench::cpu_seconds;
using allocation::bench::median;
using allocation::bench::order_id;

struct Rate {
    double wall = 0;  // allocations per second of wall time
    double cpu = 0;   // allocations per second of CPU time
};

using allocation::bench::CountingNotifier;
using allocation::bench::CountingPublisher;

struct Setting {
    const char* name;
    bool memory;
    sqlite::Synchronous synchronous;
    sqlite::Checkpoint checkpoint = sqlite::Checkpoint::automatic;  // the adapter's; raw SQLite's is automatic
    bool outbox_cost = false;  // also the floor without the outbox row and mark
    bool grouped = false;      // also the grouped floor: group_size allocations a transaction, one savepoint each
};

constexpr int group_size = 16;  // allocations a transaction in the grouped floor

class Scratch {
public:
    Scratch() : dir_(fs::temp_directory_path() / ("allocation-bench-sqlite-" + std::to_string(::getpid()))) {
        fs::remove_all(dir_);
        fs::create_directories(dir_);
    }
    Scratch(const Scratch&) = delete;
    Scratch& operator=(const Scratch&) = delete;
    ~Scratch() { fs::remove_all(dir_); }
    std::string fresh(const std::string& name) {
        const auto path = dir_ / (name + "-" + std::to_string(counter_++) + ".db");
        return path.string();
    }

private:
    fs::path dir_;
    int counter_ = 0;
};

/// Allocations per second through bus.handle(Allocate) on a fresh database.
Rate adapter_run(const std::string& path, const Setting& setting, int allocations) {
    sqlite::Database db(sqlite::Options{.path = path, .synchronous = setting.synchronous, .checkpoint = setting.checkpoint});
    sqlite::Outbox outbox(db);
    CountingNotifier notifier;
    CountingPublisher publisher;
    Relay relay(outbox, handlers::Outbound(notifier, publisher));
    auto bus = bootstrap(sqlite::UnitOfWorkFactory(db), relay);
    bus.handle(commands::CreateBatch{"batch", "SKU", max_quantity, std::nullopt});
    const auto start = Clock::now();
    const double cpu_start = cpu_seconds();
    for (long i = 0; i < allocations; ++i) {
        if (!bus.handle(commands::Allocate{order_id("order-", i), "SKU", 1})) std::abort();
    }
    const double cpu = cpu_seconds() - cpu_start;
    const std::chrono::duration<double> elapsed = Clock::now() - start;
    return {allocations / elapsed.count(), allocations / cpu};
}

Rate raw_run(const std::string& path, bool full, bool outbox, int allocations, int per_transaction = 1) {
    const double cpu_start = cpu_seconds();
    std::string schema;  // the adapter's own, so that both write the same rows and indexes
    for (const char* migration : sqlite::detail::migrations) schema += migration;
    const double wall = bench_raw::allocations_per_second({path, full, schema, allocations, outbox, per_transaction});
    // The raw run's CPU time includes its setup (open, schema, prepare): a few hundred microseconds at most.
    return {wall, allocations / (cpu_seconds() - cpu_start)};
}

/// A database whose product "SKU" already has `history` allocations (stored in one transaction).
std::string with_history(Scratch& scratch, long history) {
    const auto path = scratch.fresh("history-" + std::to_string(history));
    sqlite::Database db(sqlite::Options{path});
    allocation::bench::store_history(sqlite::UnitOfWorkFactory(db), history);
    return path;
}

/// Microseconds per allocation into a product with 100 and with 100,000 existing allocations (see
/// bench::history_figure). With `cold`, two connections to each file take turns.
void history_figure(Scratch& scratch, int allocations, bool cold) {
    const long small = 100, large = 100'000;
    const std::string small_path = with_history(scratch, small);
    const std::string large_path = with_history(scratch, large);
    sqlite::Database small_db(sqlite::Options{small_path}), small_other(sqlite::Options{small_path});
    sqlite::Database large_db(sqlite::Options{large_path}), large_other(sqlite::Options{large_path});
    allocation::bench::history_figure<sqlite::UnitOfWorkFactory, sqlite::Outbox>(
        small_db, small_other, large_db, large_other, small, large, allocations, cold, "WAL+NORMAL", "one connection",
        "every product read afresh (two connections take turns)");
}

/// The runs of one setting, with or without the outbox: the adapter's and the floor's, alternately.
struct Samples {
    std::vector<double> adapter_wall, adapter_cpu, raw_wall, raw_cpu;
    void add(const Rate& adapter, const Rate& raw) {
        adapter_wall.push_back(adapter.wall);
        adapter_cpu.push_back(adapter.cpu);
        raw_wall.push_back(raw.wall);
        raw_cpu.push_back(raw.cpu);
    }
    double wall_ratio() const { return median(adapter_wall) / median(raw_wall); }
    double cpu_ratio() const { return median(adapter_cpu) / median(raw_cpu); }
    void print(const std::string& name) const {
        std::printf("%-19s | %10.0f %10.0f %5.0f%% | %10.0f %10.0f %5.0f%%\n", name.c_str(), median(adapter_wall),
                    median(raw_wall), 100.0 * wall_ratio(), median(adapter_cpu), median(raw_cpu), 100.0 * cpu_ratio());
        std::fflush(stdout);
    }
};

/// What the outbox (its row and the previous row's delivery mark) costs the floor itself: the floor with them
/// against the floor without, and the adapter against the floor without.
void print_outbox_cost(const char* name, const Samples& with, const std::vector<double>& raw_without) {
    const double without = median(raw_without);
    std::printf("outbox cost, %s: floor with it %.0f/s, without %.0f/s (%.0f%%); adapter %.0f%% of the floor without\n",
                name, median(with.raw_wall), without, 100 * median(with.raw_wall) / without,
                100 * median(with.adapter_wall) / without);
}

/// The runs of one setting: the adapter's and the floor's, and the floor without the outbox and the grouped floor
/// where the setting asks for them.
struct SettingRuns {
    Samples with;
    std::vector<double> raw_without, grouped_wall, grouped_cpu;
};

SettingRuns run_setting(Scratch& scratch, const Setting& setting, int count, int repeats) {
    const bool full = setting.synchronous == sqlite::Synchronous::full;
    auto path = [&](const char* name) { return setting.memory ? std::string(":memory:") : scratch.fresh(name); };
    SettingRuns runs;
    for (int r = 0; r < repeats; ++r) {  // alternate, so that all see the same machine
        runs.with.add(adapter_run(path("adapter"), setting, count), raw_run(path("raw"), full, true, count));
        if (setting.outbox_cost) runs.raw_without.push_back(raw_run(path("raw"), full, false, count).wall);
        if (setting.grouped) {
            const Rate grouped = raw_run(path("raw"), full, true, count, group_size);
            runs.grouped_wall.push_back(grouped.wall);
            runs.grouped_cpu.push_back(grouped.cpu);
        }
    }
    return runs;
}

/// The grouped floor of each setting that has one, beside its floor of one transaction an allocation. Lines of the
/// form `  WAL+FULL   16/txn  12345/s (CPU time  67890/s)   1/txn   2345/s   5.26x` (bench/http/report.py reads them).
void print_grouped_floors(const std::vector<std::pair<const char*, SettingRuns>>& results, int repeats) {
    std::printf("\ngrouped floor: raw SQLite, %d allocations a transaction, each in its own SAVEPOINT ... RELEASE, one "
                "COMMIT for the %d; beside it (1/txn) the floor above, one transaction an allocation (wall time, "
                "median of %d)\n", group_size, group_size, repeats);
    for (const auto& [name, runs] : results) {
        if (runs.grouped_wall.empty()) continue;
        const double single = median(runs.with.raw_wall), grouped = median(runs.grouped_wall);
        std::printf("  %-10s %d/txn %8.0f/s (CPU time %8.0f/s)   1/txn %8.0f/s   %.2fx\n", name, group_size, grouped,
                    median(runs.grouped_cpu), single, grouped / single);
    }
    std::fflush(stdout);
}

/// `bench_sqlite floor full|normal N`: only the raw floor, with and without the outbox row and mark, alternately,
/// 3 runs of N allocations each on fresh files; prints the medians by wall time, and a line `FLOOR with=.. without=..`
/// for scripts (bench/http/outbox.sh).
int floor_figure(const std::string& synchronous, int allocations) {
    Scratch scratch;
    const bool full = synchronous == "full";
    std::vector<double> with, without;
    for (int r = 0; r < 3; ++r) {
        with.push_back(raw_run(scratch.fresh("raw"), full, true, allocations).wall);
        without.push_back(raw_run(scratch.fresh("raw"), full, false, allocations).wall);
    }
    std::printf("raw SQLite, WAL+%s, %d allocations a run, median of 3: with the outbox row and mark %.0f/s, without "
                "%.0f/s\nFLOOR with=%.0f without=%.0f\n", full ? "FULL" : "NORMAL", allocations, median(with),
                median(without), median(with), median(without));
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc > 3 && std::string_view(argv[1]) == "floor") return floor_figure(argv[2], std::atoi(argv[3]));
    const int allocations = argc > 1 ? std::atoi(argv[1]) : 20000;
    const int full_allocations = argc > 2 ? std::atoi(argv[2]) : 3000;
    const int repeats = 3;
    Scratch scratch;
    std::printf("SQLite %s; median of %d runs, each on a fresh database; allocations/s through bus.handle(Allocate)\n",
                sqlite3_libversion(), repeats);
    std::printf("%-19s | %10s %10s %6s | %10s %10s %6s\n", "", "wall time", "", "", "CPU time", "", "");
    std::printf("%-19s | %10s %10s %6s | %10s %10s %6s\n", "setting", "adapter/s", "raw/s", "ratio", "adapter/s",
                "raw/s", "ratio");
    const Setting settings[] = {
        {"WAL+NORMAL", false, sqlite::Synchronous::normal, sqlite::Checkpoint::automatic, true, true},
        {"WAL+FULL", false, sqlite::Synchronous::full, sqlite::Checkpoint::automatic, true, true},
        {":memory:", true, sqlite::Synchronous::normal, sqlite::Checkpoint::automatic, true},
        {"NORMAL/bg", false, sqlite::Synchronous::normal, sqlite::Checkpoint::background},
        {"FULL/bg", false, sqlite::Synchronous::full, sqlite::Checkpoint::background}};
    std::vector<std::pair<const char*, SettingRuns>> results;
    for (const Setting& setting : settings) {
        const int count = setting.synchronous == sqlite::Synchronous::full ? full_allocations : allocations;
        results.emplace_back(setting.name, run_setting(scratch, setting, count, repeats));
        results.back().second.with.print(setting.name);
    }
    std::printf("\n");
    for (const auto& [name, runs] : results) {
        if (!runs.raw_without.empty()) print_outbox_cost(name, runs.with, runs.raw_without);
    }
    print_grouped_floors(results, repeats);
    history_figure(scratch, std::max(1000, allocations / 4), false);
    history_figure(scratch, std::max(1000, allocations / 4), true);
    return 0;
}
