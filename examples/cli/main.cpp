// allocation-cli: the book's CSV batch job. `allocate-csv DIR` allocates DIR/orders.csv to the batches of
// DIR/batches.csv and records the result in DIR/allocations.csv, through the same message bus as the service.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "allocation/adapters/memory/memory.hpp"
#include "allocation/allocation.hpp"
#include "csv.hpp"

#if ALLOCATION_CLI_WITH_SQLITE
#include "allocation/adapters/sqlite/sqlite.hpp"
#endif

namespace {

using namespace allocation;
namespace fs = std::filesystem;

/// In memory nothing reads the allocations view once the job ends, so it is not kept. (A database keeps it.)
struct NoView {
    void add(std::string_view, std::string_view, std::string_view) noexcept {}
    void remove(std::string_view, std::string_view) noexcept {}
    std::vector<ports::AllocationRow> allocations(std::string_view) const { return {}; }
};
static_assert(ports::AllocationsView<NoView>);

/// Out-of-stock lines are counted and reported at the end, not notified one by one.
struct CountingNotifier {
    std::size_t sent = 0;
    void send(std::string_view, std::string_view) noexcept { ++sent; }
};
static_assert(ports::Notifier<CountingNotifier>);

struct NoPublisher {
    void publish(std::string_view, const events::Event&) noexcept {}
};
static_assert(ports::EventPublisher<NoPublisher>);

/// "[#####.....]  45%" on stderr, redrawn only when the percentage changes; only for a terminal.
class Progress {
public:
    Progress(std::size_t total, bool enabled) : total_(total), enabled_(enabled && total > 0) {}
    void update(std::size_t done) {
        if (!enabled_) return;
        const auto percent = static_cast<int>(done * 100 / total_);
        if (percent == shown_) return;
        shown_ = percent;
        const int width = 40, filled = percent * width / 100;
        fmt::print(stderr, "\rallocating [{}{}] {:3}% {}/{}", std::string(static_cast<std::size_t>(filled), '#'),
                   std::string(static_cast<std::size_t>(width - filled), '.'), percent, done, total_);
        std::fflush(stderr);
    }
    void finish() {
        if (enabled_ && shown_ >= 0) fmt::print(stderr, "\n");
    }

private:
    std::size_t total_;
    bool enabled_;
    int shown_ = -1;
};

struct LineKey {
    std::size_t operator()(const OrderLine& line) const noexcept { return OrderLineHash{}(line); }
};

struct Summary {
    std::size_t allocated = 0, already = 0, out_of_stock = 0;
};

/// The job itself, over whichever storage the bus was made with. Returns the rows to append.
template <typename Bus>
std::string allocate_orders(Bus& bus, const std::vector<csv::OrderRow>& orders,
                            std::unordered_set<OrderLine, LineKey>& recorded, Summary& summary,
                            std::vector<std::string>& errors) {
    std::string rows;
    Progress progress(orders.size(), orders.size() >= 10'000 && ::isatty(STDERR_FILENO));
    for (std::size_t i = 0; i < orders.size(); ++i) {
        progress.update(i);
        const csv::OrderRow& order = orders[i];
        if (recorded.contains(order.line)) {  // done by an earlier run (or earlier in this file)
            ++summary.already;
            continue;
        }
        try {
            auto batchref = bus.handle(commands::Allocate{order.line.orderid, order.line.sku, order.line.qty});
            if (!batchref) {
                ++summary.out_of_stock;
                continue;
            }
            rows += fmt::format("{},{},{},{}\n", csv::field(order.line.orderid), csv::field(order.line.sku),
                                order.line.qty, csv::field(*batchref));
            recorded.insert(order.line);
            ++summary.allocated;
        } catch (const InvalidSku& error) {
            errors.push_back(csv::InputError({order.where.file, order.where.line, order.sku_column}, error.what()).what());
            if (errors.size() >= 20) break;
        }
    }
    progress.update(orders.size());
    progress.finish();
    return rows;
}

int allocate_csv(const fs::path& dir, const std::string& db) {
    const fs::path batches_path = dir / "batches.csv", orders_path = dir / "orders.csv",
                   allocations_path = dir / "allocations.csv";
    const auto started = std::chrono::steady_clock::now();

    // Everything is read and checked before anything is allocated.
    const auto batches = csv::read_batches(batches_path);
    const auto orders = csv::read_orders(orders_path);
    const auto previous = csv::read_allocations(allocations_path);
    std::unordered_set<OrderLine, LineKey> recorded;
    recorded.reserve(previous.size() + orders.size());
    for (const auto& row : previous) recorded.insert(row.line);

    Summary summary;
    std::vector<std::string> errors;
    std::string rows;
    BusOptions options;
    options.on_error = [&errors](const events::Event& event, std::string_view handler, const std::exception& error) {
        errors.push_back(fmt::format("handler {} failed on {}: {}", handler, event, error.what()));
    };
    CountingNotifier notifier;
    NoPublisher publisher;
    if (db.empty()) {
        // In memory: the batches come from batches.csv and what was allocated before from allocations.csv.
        std::map<std::string, std::vector<Batch>> batches_by_sku;
        std::unordered_map<std::string, std::pair<const csv::BatchRow*, std::vector<OrderLine>>> lines_by_batch;
        for (const auto& b : batches) lines_by_batch[b.ref].first = &b;
        for (const auto& row : previous) {
            auto it = lines_by_batch.find(row.batchref);
            if (it == lines_by_batch.end() || it->second.first->sku != row.line.sku) {
                throw csv::InputError({row.where.file, row.where.line, row.batchref_column},
                                      "batch " + row.batchref + " of sku " + row.line.sku + " is not in batches.csv");
            }
            it->second.second.push_back(row.line);
        }
        for (const auto& b : batches) {
            auto& lines = lines_by_batch[b.ref].second;
            Quantity allocated = 0;
            for (const auto& line : lines) allocated += line.qty;
            batches_by_sku[b.sku].emplace_back(b.ref, b.sku, b.qty, b.eta, std::move(lines), allocated);
        }
        memory::Store store;
        memory::UnitOfWorkFactory factory(store);
        {
            auto uow = factory();
            for (auto& [sku, list] : batches_by_sku) uow.products().add(Product(sku, std::move(list)));
            uow.commit();
        }
        NoView view;
        auto bus = bootstrap(factory, view, notifier, publisher, std::move(options));
        rows = allocate_orders(bus, orders, recorded, summary, errors);
    } else {
#if ALLOCATION_CLI_WITH_SQLITE
        // In a database: it remembers the batches and the allocations of earlier runs, and keeps the allocations
        // view that the server reads.
        sqlite::Database database(sqlite::Options{.path = db});
        sqlite::AllocationsView view(database);
        auto bus = bootstrap(sqlite::UnitOfWorkFactory(database), view, notifier, publisher, std::move(options));
        for (const auto& b : batches) {
            try {
                bus.handle(commands::CreateBatch{b.ref, b.sku, b.qty, b.eta});
            } catch (const DuplicateBatch&) {
                // recorded by an earlier run
            }
        }
        rows = allocate_orders(bus, orders, recorded, summary, errors);
#else
        fmt::print(stderr, "allocation-cli: this build has no SQLite support; leave out --db\n");
        return 2;
#endif
    }

    if (!errors.empty()) {
        for (const auto& error : errors) fmt::print(stderr, "{}\n", error);
        fmt::print(stderr, "allocation-cli: {} left unchanged\n", allocations_path.string());
        return 1;
    }
    if (!rows.empty() || previous.empty()) {
        std::string content = fs::exists(allocations_path) ? csv::read_text(allocations_path) : std::string();
        if (content.empty()) content = "orderid,sku,qty,batchref\n";
        if (content.back() != '\n') content += '\n';
        content += rows;
        csv::write_atomically(allocations_path, content);
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    fmt::print("{} lines allocated, {} already allocated, {} out of stock; {} ({:.2f} s)\n", summary.allocated,
               summary.already, summary.out_of_stock, allocations_path.string(), seconds);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"Batch jobs of the allocation service."};
    app.require_subcommand(1);
    auto* job = app.add_subcommand("allocate-csv",
                                   "Allocate DIR/orders.csv to the batches of DIR/batches.csv; write DIR/allocations.csv");
    fs::path dir;
    std::string db;
    job->add_option("DIR", dir, "Directory with batches.csv and orders.csv")->required()->check(CLI::ExistingDirectory);
    job->add_option("--db", db, "SQLite database that keeps batches and allocations between runs");
    CLI11_PARSE(app, argc, argv);

    try {
        return allocate_csv(dir, db);
    } catch (const csv::InputError& error) {
        fmt::print(stderr, "{}\n", error.what());
        return 1;
    } catch (const std::exception& error) {
        fmt::print(stderr, "allocation-cli: {}\n", error.what());
        return 1;
    }
}
