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

/// Out-of-stock lines are counted and reported at the end, not notified one by one.
struct CountingNotifier {
    std::size_t sent = 0;
    void send(std::string_view, std::string_view) noexcept { ++sent; }
};
static_assert(ports::Notifier<CountingNotifier>);

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

/// The job itself, over whichever storage the bus was made with. Appends the rows of the lines it allocates to
/// `rows` as it goes, so that they are there even when a later line fails.
template <typename Bus>
void allocate_orders(Bus& bus, const std::vector<csv::OrderRow>& orders,
                     std::unordered_set<OrderLine, LineKey>& recorded, Summary& summary, std::string& rows) {
    Progress progress(orders.size(), orders.size() >= 10'000 && ::isatty(STDERR_FILENO));
    for (std::size_t i = 0; i < orders.size(); ++i) {
        progress.update(i);
        const csv::OrderRow& order = orders[i];
        if (recorded.contains(order.line)) {  // done by an earlier run (or earlier in this file)
            ++summary.already;
            continue;
        }
        auto batchref = bus.handle(commands::Allocate{order.line.orderid, order.line.sku, order.line.qty});
        if (!batchref) {
            ++summary.out_of_stock;
            continue;
        }
        rows += fmt::format("{},{},{},{}\n", csv::field(order.line.orderid), csv::field(order.line.sku),
                            order.line.qty, csv::field(*batchref));
        recorded.insert(order.line);
        ++summary.allocated;
    }
    progress.update(orders.size());
    progress.finish();
}

std::string describe(Quantity qty, const std::optional<Date>& eta) {
    return fmt::format("qty {}, eta {}", qty, eta ? to_string(*eta) : std::string("none"));
}

/// Checks that the lines an earlier run recorded in allocations.csv fit the batches of batches.csv: each names a
/// batch of its SKU, no line is recorded twice, and no batch holds more than it has. Returns them by batch.
std::unordered_map<std::string, std::vector<OrderLine>> check_previous(const std::vector<csv::BatchRow>& batches,
                                                                       const std::vector<csv::AllocationRow>& previous) {
    std::unordered_map<std::string, const csv::BatchRow*> by_ref;
    for (const auto& b : batches) by_ref.emplace(b.ref, &b);
    std::unordered_map<std::string, std::vector<OrderLine>> lines_by_batch;
    std::unordered_map<std::string, Quantity> allocated;
    std::unordered_map<OrderLine, std::size_t, LineKey> first_seen;
    for (const auto& row : previous) {
        auto it = by_ref.find(row.batchref);
        if (it == by_ref.end() || it->second->sku != row.line.sku) {
            throw csv::InputError({row.where.file, row.where.line, row.batchref_column},
                                  "batch " + row.batchref + " of sku " + row.line.sku + " is not in batches.csv");
        }
        if (auto [seen, inserted] = first_seen.emplace(row.line, row.where.line); !inserted) {
            throw csv::InputError(row.where, fmt::format("order line {},{},{} is recorded twice (also at line {})",
                                                         row.line.orderid, row.line.sku, row.line.qty, seen->second));
        }
        Quantity& total = allocated[row.batchref];
        total += row.line.qty;
        if (total > it->second->qty) {
            throw csv::InputError({row.where.file, row.where.line, row.batchref_column},
                                  fmt::format("batch {} has {} units in batches.csv, but the lines recorded against it "
                                              "up to here take {}",
                                              row.batchref, it->second->qty, total));
        }
        lines_by_batch[row.batchref].push_back(row.line);
    }
    return lines_by_batch;
}

/// Checks that every order names a SKU that has batches: in batches.csv, or else (`stored`) in the database.
template <typename Stored>
void check_orders(const std::vector<csv::BatchRow>& batches, const std::vector<csv::OrderRow>& orders,
                  Stored&& stored, std::string_view where) {
    std::unordered_set<std::string> known;
    for (const auto& b : batches) known.insert(b.sku);
    std::unordered_set<std::string> unknown;
    for (const auto& order : orders) {
        const std::string& sku = order.line.sku;
        if (known.contains(sku)) continue;
        if (!unknown.contains(sku) && stored(sku)) {
            known.insert(sku);
            continue;
        }
        unknown.insert(sku);
        throw csv::InputError({order.where.file, order.where.line, order.sku_column},
                              fmt::format("Invalid sku {}: no batch of it in {}", sku, where));
    }
}

int allocate_csv(const fs::path& dir, const std::string& db) {
    const fs::path batches_path = dir / "batches.csv", orders_path = dir / "orders.csv",
                   allocations_path = dir / "allocations.csv";
    const auto started = std::chrono::steady_clock::now();

    // Everything is read and checked before anything is allocated: an input error changes nothing anywhere.
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
    memory::NullPublisher publisher;  // the CLI tells no broker

    // What a failure after the first write leaves behind, said truthfully.
    std::string kept = fmt::format("{} lists the lines allocated before it; run the job again to allocate the rest",
                                   allocations_path.string());
    auto write_rows = [&] {
        if (rows.empty() && !previous.empty()) return;
        std::string content = fs::exists(allocations_path) ? csv::read_text(allocations_path) : std::string();
        if (content.empty()) content = "orderid,sku,qty,batchref\n";
        if (content.back() != '\n') content += '\n';
        content += rows;
        csv::write_atomically(allocations_path, content);
    };
    auto run = [&](auto&& allocate) {
        try {
            allocate();
        } catch (const std::exception& error) {
            std::string saved;
            try {
                if (!rows.empty()) write_rows();
            } catch (const std::exception& write_error) {
                saved = fmt::format(" ({} could not be written either: {})", allocations_path.string(),
                                    write_error.what());
            }
            fmt::print(stderr, "allocation-cli: {}\nallocation-cli: stopped after {} of {} order lines; {}{}\n",
                       error.what(), summary.allocated + summary.already + summary.out_of_stock, orders.size(), kept,
                       saved);
            return false;
        }
        return true;
    };

    bool finished = false;
    if (db.empty()) {
        // In memory: the batches come from batches.csv and what was allocated before from allocations.csv.
        auto lines_by_batch = check_previous(batches, previous);
        check_orders(batches, orders, [](const std::string&) { return false; }, batches_path.string());
        std::map<std::string, std::vector<Batch>> batches_by_sku;
        for (const auto& b : batches) {
            auto& lines = lines_by_batch[b.ref];
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
        auto bus = bootstrap(factory, notifier, publisher, std::move(options));
        finished = run([&] { allocate_orders(bus, orders, recorded, summary, rows); });
    } else {
#if ALLOCATION_CLI_WITH_SQLITE
        // In a database: it remembers the batches and the allocations of earlier runs, and each commit keeps
        // the allocations view that the server reads.
        sqlite::Database database(sqlite::Options{.path = db});
        sqlite::UnitOfWorkFactory factory(database);
        std::vector<const csv::BatchRow*> new_batches;
        {
            // A batch already stored must be the same batch: re-runs are idempotent, a changed row is an error.
            auto uow = factory();
            for (const auto& b : batches) {
                if (const Product* product = uow.products().get(b.sku)) {
                    if (const Batch* stored = product->batch(b.ref)) {
                        if (stored->purchased_quantity() != b.qty || stored->eta() != b.eta) {
                            throw csv::InputError(b.where, fmt::format("batch {} is in {} with {}, but this row says {}",
                                                                       b.ref, db, describe(stored->purchased_quantity(), stored->eta()),
                                                                       describe(b.qty, b.eta)));
                        }
                        continue;
                    }
                }
                if (const Product* other = uow.products().get_by_batchref(b.ref)) {
                    throw csv::InputError(b.where, fmt::format("batch {} is in {} with sku {}, but this row says {}",
                                                               b.ref, db, other->sku(), b.sku));
                }
                new_batches.push_back(&b);
            }
            check_orders(batches, orders, [&](const std::string& sku) { return uow.products().get(sku) != nullptr; },
                         batches_path.string() + " or " + db);
        }  // read only: rolled back
        auto bus = bootstrap(factory, notifier, publisher, std::move(options));
        kept = fmt::format("{} holds the allocations made so far and {} lists them; run the job again to complete it",
                           db, allocations_path.string());
        finished = run([&] {
            for (const auto* b : new_batches) bus.handle(commands::CreateBatch{b->ref, b->sku, b->qty, b->eta});
            allocate_orders(bus, orders, recorded, summary, rows);
        });
#else
        fmt::print(stderr, "allocation-cli: this build has no SQLite support; leave out --db\n");
        return 2;
#endif
    }
    if (!finished) return 1;

    write_rows();
    if (!errors.empty()) {
        // The allocations are committed (and recorded above); only some of their event handlers failed.
        for (const auto& error : errors) fmt::print(stderr, "{}\n", error);
        fmt::print(stderr, "allocation-cli: the lines are allocated and recorded in {}, but the handlers above failed\n",
                   allocations_path.string());
        return 1;
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
