// End-to-end allocation throughput of the message bus on SQLite (WAL+NORMAL, WAL+FULL, ":memory:"), next to the
// raw floor measured in the same run, and the cost of one allocation as a product's history grows. The rows
// NORMAL/bg and FULL/bg run the adapter with Checkpoint::background (as allocation-server does) against the same
// raw floor, which checkpoints the way SQLite does by default, in the committing connection.
//
// usage: bench_sqlite [allocations per run (default 20000)] [allocations per WAL+FULL run (default 3000)]
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
};

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
    CountingNotifier notifier;
    CountingPublisher publisher;
    auto bus = bootstrap(sqlite::UnitOfWorkFactory(db), notifier, publisher);
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

Rate raw_run(const std::string& path, bool full, int allocations) {
    const double cpu_start = cpu_seconds();
    std::string schema;  // the adapter's own, so that both write the same rows and indexes
    for (const char* migration : sqlite::detail::migrations) schema += migration;
    const double wall = bench_raw::allocations_per_second({path, full, schema, allocations});
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
    allocation::bench::history_figure<sqlite::UnitOfWorkFactory>(
        small_db, small_other, large_db, large_other, small, large, allocations, cold, "WAL+NORMAL", "one connection",
        "every product read afresh (two connections take turns)");
}

}  // namespace

int main(int argc, char** argv) {
    const int allocations = argc > 1 ? std::atoi(argv[1]) : 20000;
    const int full_allocations = argc > 2 ? std::atoi(argv[2]) : 3000;
    const int repeats = 3;
    Scratch scratch;
    std::printf("SQLite %s; median of %d runs, each on a fresh database; allocations/s through bus.handle(Allocate)\n",
                sqlite3_libversion(), repeats);
    std::printf("%-12s | %10s %10s %6s | %10s %10s %6s\n", "", "wall time", "", "", "CPU time", "", "");
    std::printf("%-12s | %10s %10s %6s | %10s %10s %6s\n", "setting", "adapter/s", "raw/s", "ratio", "adapter/s",
                "raw/s", "ratio");
    const Setting settings[] = {{"WAL+NORMAL", false, sqlite::Synchronous::normal},
                                {"WAL+FULL", false, sqlite::Synchronous::full},
                                {":memory:", true, sqlite::Synchronous::normal},
                                {"NORMAL/bg", false, sqlite::Synchronous::normal, sqlite::Checkpoint::background},
                                {"FULL/bg", false, sqlite::Synchronous::full, sqlite::Checkpoint::background}};
    for (const Setting& setting : settings) {
        const int count = setting.synchronous == sqlite::Synchronous::full ? full_allocations : allocations;
        const bool full = setting.synchronous == sqlite::Synchronous::full;
        std::vector<double> adapter_wall, adapter_cpu, raw_wall, raw_cpu;
        for (int r = 0; r < repeats; ++r) {  // alternate, so that both see the same machine
            const Rate a = adapter_run(setting.memory ? ":memory:" : scratch.fresh("adapter"), setting, count);
            const Rate b = raw_run(setting.memory ? ":memory:" : scratch.fresh("raw"), full, count);
            adapter_wall.push_back(a.wall);
            adapter_cpu.push_back(a.cpu);
            raw_wall.push_back(b.wall);
            raw_cpu.push_back(b.cpu);
        }
        const double aw = median(adapter_wall), bw = median(raw_wall), ac = median(adapter_cpu), bc = median(raw_cpu);
        std::printf("%-12s | %10.0f %10.0f %5.0f%% | %10.0f %10.0f %5.0f%%\n", setting.name, aw, bw, 100.0 * aw / bw, ac,
                    bc, 100.0 * ac / bc);
        std::fflush(stdout);
    }
    history_figure(scratch, std::max(1000, allocations / 4), false);
    history_figure(scratch, std::max(1000, allocations / 4), true);
    return 0;
}
