// The message bus on PostgreSQL end to end, next to raw libpq running the adapter's statements in the same run
// (synchronous_commit on and off), the round trip those statements each pay, the cost of one allocation as a
// product's history grows, and threads racing on one hot SKU against threads on SKUs of their own. It starts a
// cluster of its own (fsync on) on a free loopback port.
//
// usage: bench_postgres [allocations per run (default 2000)]
//        bench_postgres bus|history|race|group [allocations]    only that figure
//        bench_postgres cluster    serves a cluster (fsync on) until SIGTERM or SIGINT; prints its URI first
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "allocation/adapters/postgres/postgres.hpp"
#include "allocation/allocation.hpp"
#include "bench_common.hpp"
#include "bench_postgres_raw.hpp"
#include "counting_adapters.hpp"
#include "postgres_cluster.hpp"

namespace {

using namespace allocation;
using allocation::bench::CountingNotifier;
using allocation::bench::CountingPublisher;
using allocation::bench::median;
using allocation::bench::order_id;
using allocation::testing::PostgresCluster;
using Clock = std::chrono::steady_clock;

/// CPU seconds (user + system) used so far by every process named "postgres": the cluster's server processes.
double server_cpu_seconds() {
    static const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
    double total = 0;
    for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
        std::ifstream in(entry.path() / "stat");
        std::string stat;
        if (!std::getline(in, stat) || stat.find("(postgres)") == std::string::npos) continue;
        std::istringstream fields(stat.substr(stat.rfind(')') + 2));
        std::string skip;
        for (int i = 0; i < 11; ++i) fields >> skip;  // state ... cmajflt
        double utime = 0, stime = 0;
        fields >> utime >> stime;
        total += (utime + stime) / ticks;
    }
    return total;
}

std::string unique_name() {
    static int counter = 0;
    return "bench_" + std::to_string(counter++);
}

/// One timed run: allocations per second, and the microseconds of CPU per allocation of this thread (the client)
/// and of the server's processes.
struct Run {
    double per_second = 0, client_us = 0, server_us = 0;
};

template <typename Fn>
Run timed(int allocations, Fn&& fn) {
    const double client = allocation::bench::cpu_seconds(), server = server_cpu_seconds();
    const double per_second = fn();
    return {per_second, (allocation::bench::cpu_seconds() - client) * 1e6 / allocations,
            (server_cpu_seconds() - server) * 1e6 / allocations};
}

/// A fresh database named `name` in `cluster` with the adapter's schema; its URI, with `settings` for every
/// connection.
std::string fresh_database(PostgresCluster& cluster, const std::string& settings,
                           const std::string& name = unique_name()) {
    const std::string uri = cluster.create_database(name);
    postgres::Database migrate(postgres::Options{.uri = uri});
    return settings.empty() ? uri : uri + "?options=" + settings;
}

/// Allocations per second through bus.handle(Allocate) on the database at `uri`.
double adapter_run(const std::string& uri, int allocations) {
    postgres::Database db(postgres::Options{.uri = uri});
    postgres::Outbox outbox(db);
    CountingNotifier notifier;
    CountingPublisher publisher;
    Relay relay(outbox, handlers::Outbound(notifier, publisher));
    auto bus = bootstrap(postgres::UnitOfWorkFactory(db), relay);
    bus.handle(commands::CreateBatch{"batch", "SKU", max_quantity, std::nullopt});
    const auto start = Clock::now();
    for (long i = 0; i < allocations; ++i) {
        if (!bus.handle(commands::Allocate{order_id("order-", i), "SKU", 1})) std::abort();
    }
    const std::chrono::duration<double> elapsed = Clock::now() - start;
    return allocations / elapsed.count();
}

/// The medians of `runs`, field by field.
Run median_of(const std::vector<Run>& runs) {
    auto field = [&](double Run::*member) {
        std::vector<double> values;
        for (const Run& run : runs) values.push_back(run.*member);
        return median(values);
    };
    return {field(&Run::per_second), field(&Run::client_us), field(&Run::server_us)};
}

/// One of the floors (bench_raw_postgres::Floor) on a fresh database with `settings`.
Run raw_run(PostgresCluster& cluster, const std::string& settings, int allocations, bench_raw_postgres::Floor floor) {
    const std::string uri = fresh_database(cluster, settings);
    return timed(allocations, [&] { return bench_raw_postgres::allocations_per_second(uri, allocations, floor); });
}

void bus_against_raw(PostgresCluster& cluster, int allocations) {
    using bench_raw_postgres::Floor;
    std::printf("bus.handle(Allocate) against raw libpq sending the same 4 statements, and against raw libpq sending "
                "the rows a statement each (8);\nmedian of 5 runs, each on a fresh database, the three alternating; "
                "CPU in microseconds per allocation, of the client thread and of the server's processes\n"
                "%-18s %10s %10s %6s %10s %6s | %10s %10s | %10s %10s\n", "synchronous_commit", "adapter/s", "raw/s",
                "ratio", "raw 8/s", "ratio", "client CPU", "(raw)", "server CPU", "(raw)");
    for (const std::string& setting : {std::string("on"), std::string("off")}) {
        const std::string settings = "-csynchronous_commit%3D" + setting;
        std::vector<Run> adapter, raw, per_row;
        for (int r = 0; r < 5; ++r) {  // alternate, so that all see the same machine
            const std::string a = fresh_database(cluster, settings);
            adapter.push_back(timed(allocations, [&] { return adapter_run(a, allocations); }));
            raw.push_back(raw_run(cluster, settings, allocations, Floor::one_statement));
            per_row.push_back(raw_run(cluster, settings, allocations, Floor::statement_per_row));
        }
        const Run a = median_of(adapter), b = median_of(raw), c = median_of(per_row);
        std::printf("%-18s %10.0f %10.0f %5.0f%% %10.0f %5.0f%% | %10.1f %10.1f | %10.1f %10.1f\n", setting.c_str(),
                    a.per_second, b.per_second, 100.0 * a.per_second / b.per_second, c.per_second,
                    100.0 * a.per_second / c.per_second, a.client_us, b.client_us, a.server_us, b.server_us);
        std::fflush(stdout);
    }
    const double rtt = bench_raw_postgres::round_trip_us(fresh_database(cluster, ""), 20000);
    std::printf("one round trip (prepared SELECT 1, loopback TCP): %.1f us; an allocation sends 4 statements\n", rtt);
}

/// A database whose product "SKU" already has `history` allocations (stored in one unit of work).
/// The database is then vacuumed, analysed and checkpointed, as a long-lived one would be by autovacuum and the
/// checkpointer: otherwise they work through the fresh rows during the measurement, on the cores it uses.
std::string with_history(PostgresCluster& cluster, long history) {
    const std::string name = unique_name();
    const std::string uri = fresh_database(cluster, "-csynchronous_commit%3Doff", name);
    {
        postgres::Database db(postgres::Options{.uri = uri});
        allocation::bench::store_history(postgres::UnitOfWorkFactory(db), history);
    }
    cluster.sql("VACUUM ANALYZE", name);
    cluster.sql("CHECKPOINT", name);
    return uri;
}

/// Microseconds per allocation into a product with 100 and with 100,000 existing allocations (see
/// bench::history_figure). With `cold`, two Database instances (as two servers would be) take turns.
void history_figure(PostgresCluster& cluster, int allocations, bool cold) {
    const long small = 100, large = 100'000;
    const std::string small_uri = with_history(cluster, small), large_uri = with_history(cluster, large);
    postgres::Database small_db({.uri = small_uri}), small_other({.uri = small_uri});
    postgres::Database large_db({.uri = large_uri}), large_other({.uri = large_uri});
    allocation::bench::history_figure<postgres::UnitOfWorkFactory, postgres::Outbox>(
        small_db, small_other, large_db, large_other, small, large, allocations, cold, "synchronous_commit=off",
        "one Database", "every product read afresh (two Database instances take turns)");
}

struct RaceResult {
    double per_second = 0;
    double retries_per_allocation = 0;
};

/// `threads` threads, each with its own bus on one Database, allocating `allocations` lines between them into
/// `skus` products (1: all on one hot SKU); a command that lost every attempt is sent again, as a client would.
RaceResult race(PostgresCluster& cluster, int threads, int skus, int allocations, const std::string& sync) {
    postgres::Database db(postgres::Options{.uri = fresh_database(cluster, "-csynchronous_commit%3D" + sync)});
    postgres::Outbox outbox(db);
    CountingNotifier notifier;
    CountingPublisher publisher;
    Relay relay(outbox, handlers::Outbound(notifier, publisher));
    std::atomic<long> retries{0};
    BusOptions options;
    options.max_attempts = 10;
    options.on_retry = [&retries] { ++retries; };
    auto setup = bootstrap(postgres::UnitOfWorkFactory(db), relay);
    for (int s = 0; s < skus; ++s) {
        setup.handle(commands::CreateBatch{"batch-" + std::to_string(s), "SKU-" + std::to_string(s), max_quantity, std::nullopt});
    }
    const auto start = Clock::now();
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
        workers.emplace_back([&, t] {
            auto bus = bootstrap(postgres::UnitOfWorkFactory(db), relay, options);
            for (int i = t; i < allocations; i += threads) {
                const commands::Allocate cmd{order_id("order-", i), "SKU-" + std::to_string(i % skus), 1};
                for (;;) {
                    try {
                        bus.handle(cmd);
                        break;
                    } catch (const ConcurrencyError&) {
                        ++retries;
                    }
                }
            }
        });
    }
    for (auto& worker : workers) worker.join();
    const std::chrono::duration<double> elapsed = Clock::now() - start;
    return {allocations / elapsed.count(), static_cast<double>(retries) / allocations};
}

void hot_sku_figure(PostgresCluster& cluster, int allocations) {
    std::printf("\nthreads racing: allocations/s and optimistic retries per allocation, one bus per thread\n"
                "%-18s %-8s %16s %16s\n", "synchronous_commit", "threads", "one SKU", "a SKU each");
    for (const std::string& sync : {std::string("on"), std::string("off")}) {
        for (int threads : {1, 2, 4, 8}) {
            const RaceResult hot = race(cluster, threads, 1, allocations, sync);
            const RaceResult spread = race(cluster, threads, threads, allocations, sync);
            std::printf("%-18s %-8d %7.0f (%5.2f r) %7.0f (%5.2f r)\n", sync.c_str(), threads, hot.per_second,
                        hot.retries_per_allocation, spread.per_second, spread.retries_per_allocation);
            std::fflush(stdout);
        }
    }
}

/// Allocations per second and the mean group size of `threads` threads handing `allocations` Allocate commands to
/// one bus through GroupCommit with `max_group` (1: each command its own unit of work, on its caller's thread), into
/// `skus` products.
std::pair<double, double> grouped(PostgresCluster& cluster, int threads, int skus, std::size_t max_group,
                                  int allocations, const std::string& sync) {
    postgres::Database db(postgres::Options{.uri = fresh_database(cluster, "-csynchronous_commit%3D" + sync)});
    postgres::Outbox outbox(db);
    CountingNotifier notifier;
    CountingPublisher publisher;
    Relay relay(outbox, handlers::Outbound(notifier, publisher));
    auto bus = bootstrap(postgres::UnitOfWorkFactory(db), relay);
    for (int s = 0; s < skus; ++s) {
        bus.handle(commands::CreateBatch{"batch-" + std::to_string(s), "SKU-" + std::to_string(s), max_quantity, std::nullopt});
    }
    std::atomic<long> groups{0};
    GroupCommit group(bus, max_group, [&groups](std::size_t) { ++groups; });
    const auto start = Clock::now();
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
        workers.emplace_back([&, t] {
            for (int i = t; i < allocations; i += threads) {
                if (!group.handle(commands::Allocate{order_id("order-", i), "SKU-" + std::to_string(i % skus), 1})) {
                    std::abort();
                }
            }
        });
    }
    for (auto& worker : workers) worker.join();
    const std::chrono::duration<double> elapsed = Clock::now() - start;
    return {allocations / elapsed.count(), static_cast<double>(allocations) / static_cast<double>(groups)};
}

void group_commit_figure(PostgresCluster& cluster, int allocations) {
    constexpr int threads = 8;
    std::printf("\ngroup commit: %d threads, one bus, through GroupCommit with max_group 1 (no groups) and 64; "
                "median of 5 runs, alternating;\nallocations/s (mean commands per commit)\n%-18s %-8s %18s %18s %6s\n",
                threads, "synchronous_commit", "SKUs", "max_group 1", "max_group 64", "ratio");
    for (const std::string& sync : {std::string("on"), std::string("off")}) {
        for (int skus : {1, threads}) {
            std::vector<double> alone, together, sizes;
            for (int r = 0; r < 5; ++r) {
                alone.push_back(grouped(cluster, threads, skus, 1, allocations, sync).first);
                const auto [per_second, size] = grouped(cluster, threads, skus, 64, allocations, sync);
                together.push_back(per_second);
                sizes.push_back(size);
            }
            const double a = median(alone), b = median(together);
            std::printf("%-18s %-8d %10.0f (%5.1f) %10.0f (%5.1f) %5.0f%%\n", sync.c_str(), skus, a, 1.0, b,
                        median(sizes), 100.0 * b / a);
            std::fflush(stdout);
        }
    }
}

/// Serves a durable cluster until SIGTERM or SIGINT, for bench/http/postgres.sh: its URI goes to stdout first.
int serve_cluster() {
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, nullptr);
    PostgresCluster cluster({.database = "allocation", .durable = true, .settings = {"max_connections=200"}});
    std::printf("%s\n", cluster.uri().c_str());
    std::fflush(stdout);
    int signal = 0;
    sigwait(&stop, &signal);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc > 1 && std::string(argv[1]) == "cluster") return serve_cluster();
    const bool one = argc > 1 && std::atoi(argv[1]) == 0;
    const std::string only = one ? argv[1] : "";
    if (one && only != "bus" && only != "history" && only != "race" && only != "group") {
        std::fprintf(stderr, "usage: bench_postgres [bus|history|race|group|cluster] [allocations per run]\n");
        return 2;
    }
    const int allocations = argc > (one ? 2 : 1) ? std::atoi(argv[one ? 2 : 1]) : 2000;
    PostgresCluster cluster({.database = "bench", .durable = true, .settings = {"max_connections=200"}});
    std::string version = cluster.sql("SHOW server_version");
    if (!version.empty() && version.back() == '\n') version.pop_back();
    std::printf("PostgreSQL %s, fsync on, on loopback TCP; a 2-core machine that others share\n\n", version.c_str());
    if (!one || only == "bus") bus_against_raw(cluster, allocations);
    if (!one || only == "history") {
        history_figure(cluster, std::max(1000, allocations / 2), false);
        history_figure(cluster, std::max(1000, allocations / 2), true);
    }
    if (!one || only == "race") hot_sku_figure(cluster, allocations);
    if (!one || only == "group") group_commit_figure(cluster, allocations);
    return 0;
}
