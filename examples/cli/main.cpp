// allocation-cli: the book's CSV batch job. `allocate-csv DIR` hands each line of DIR/orders.csv to the message
// bus as an Allocate command, over the CSV adapter (DIR/batches.csv and DIR/allocations.csv), or over a SQLite
// database with --db. It only translates: rows into commands, answers into a summary.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "allocation/adapters/csv/csv.hpp"
#include "allocation/adapters/memory/memory.hpp"
#include "allocation/allocation.hpp"

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

/// One run: its orders, what the bus answered for each so far, and what event handlers reported.
struct Job {
    std::vector<csv::OrderRow> orders;
    std::vector<std::optional<std::string>> batchrefs;  // one per order handled, in order
    std::size_t allocated = 0, already = 0, out_of_stock = 0;
    std::size_t notified = 0;  // out-of-stock notifications the outbound handlers sent
    std::vector<std::string> errors;
};

/// A rule the bus refused for a row is an error of that row; a storage failure is not.
template <typename Bus>
std::optional<std::string> allocate_row(Bus& bus, const csv::OrderRow& row) {
    try {
        return bus.handle(commands::Allocate{row.line.orderid, row.line.sku, row.line.qty});
    } catch (const StorageError&) {
        throw;
    } catch (const InvalidSku& error) {
        throw csv::InputError({row.where.file, row.where.line, row.sku_column}, error.what());
    } catch (const Error& error) {
        throw csv::InputError(row.where, error.what());
    }
}

/// Runs `use(bus)` with a bus over `factory` whose commits' outbox rows go at once to the CLI's outbound handlers:
/// out-of-stock notifications are counted, no broker is told, and a failure is one of the job's errors.
template <typename Factory, typename Outbox, typename Use>
void with_bus(Factory factory, Outbox& outbox, Job& job, Use&& use) {
    CountingNotifier notifier;
    memory::NullPublisher publisher;  // the CLI tells no broker
    RelayOptions relay_options;
    relay_options.on_error = [&job](std::string_view doing, const std::exception& error) {
        job.errors.push_back(fmt::format("{}: {}", doing, error.what()));
    };
    Relay relay(outbox, handlers::Outbound(notifier, publisher), std::move(relay_options));
    BusOptions options;
    options.on_error = [&job](const events::Event& event, std::string_view handler, const std::exception& error) {
        job.errors.push_back(fmt::format("handler {} failed on {}: {}", handler, event, error.what()));
    };
    auto bus = bootstrap(factory, relay, std::move(options));
    use(bus);
    job.notified = notifier.sent;
}

/// Hands every order to the bus. A line that comes back with a batch but raised no Allocated event was allocated
/// before (Allocate is idempotent).
template <typename Bus>
void allocate_orders(Bus& bus, Job& job) {
    std::size_t raised = 0;
    bus.template subscribe<events::Allocated>([&raised](const events::Allocated&) { ++raised; });
    Progress progress(job.orders.size(), job.orders.size() >= 10'000 && ::isatty(STDERR_FILENO));
    for (std::size_t i = 0; i < job.orders.size(); ++i) {
        progress.update(i);
        const std::size_t before = raised;
        auto batchref = allocate_row(bus, job.orders[i]);
        ++(!batchref ? job.out_of_stock : raised > before ? job.allocated : job.already);
        job.batchrefs.push_back(std::move(batchref));
    }
    progress.update(job.orders.size());
    progress.finish();
}

/// Runs `allocate`; on a failure says how far it got and what `kept` holds, after `save` has kept it.
template <typename Allocate, typename Save>
bool run(Job& job, Allocate&& allocate, Save&& save, const std::string& kept) {
    try {
        allocate();
        return true;
    } catch (const std::exception& error) {
        std::string unsaved;
        try {
            save();
        } catch (const std::exception& save_error) {
            unsaved = fmt::format(" (and that could not be written: {})", save_error.what());
        }
        fmt::print(stderr, "allocation-cli: {}\nallocation-cli: stopped after {} of {} order lines; {}{}\n", error.what(),
                   job.batchrefs.size(), job.orders.size(), kept, unsaved);
        return false;
    }
}

/// On the CSV adapter: the directory's files are the storage, written once at the end (csv::Options).
bool allocate_in_directory(const fs::path& dir, Job& job) {
    csv::Directory directory(csv::Options{.directory = dir, .save_on_commit = false});
    job.orders = csv::read_orders(dir / "orders.csv");
    const std::string kept = fmt::format("{} is unchanged; run the job again", directory.allocations_path().string());
    auto allocate = [&] {
        with_bus(csv::UnitOfWorkFactory(directory), directory.outbox(), job, [&](auto& bus) { allocate_orders(bus, job); });
    };
    if (!run(job, allocate, [] {}, kept)) return false;
    directory.save();
    return true;
}

#if ALLOCATION_CLI_WITH_SQLITE
std::string describe(Quantity qty, const std::optional<Date>& eta) {
    return fmt::format("qty {}, eta {}", qty, eta ? to_string(*eta) : std::string("none"));
}

/// The rows of batches.csv the database does not have yet. A row for a batch it has must describe that batch:
/// re-runs are idempotent, a changed row is an error (and then nothing is created).
std::vector<commands::CreateBatch> new_batches(sqlite::UnitOfWorkFactory& factory, const fs::path& path,
                                               const std::string& db) {
    std::vector<commands::CreateBatch> created;
    auto uow = factory();  // read only: rolled back
    for (const csv::BatchRow& b : csv::read_batches(path)) {
        const Product* stored = uow.products().get_by_batchref(b.ref);
        if (stored == nullptr) {
            created.push_back({b.ref, b.sku, b.qty, b.eta});
            continue;
        }
        if (stored->sku() != b.sku) {
            throw csv::InputError(b.where, fmt::format("batch {} is in {} with sku {}, but this row says {}", b.ref, db,
                                                       stored->sku(), b.sku));
        }
        const Batch& batch = *stored->batch(b.ref);
        if (batch.purchased_quantity() != b.qty || batch.eta() != b.eta) {
            throw csv::InputError(b.where, fmt::format("batch {} is in {} with {}, but this row says {}", b.ref, db,
                                                       describe(batch.purchased_quantity(), batch.eta()),
                                                       describe(b.qty, b.eta)));
        }
    }
    return created;
}

/// allocations.csv as the output of a run on a database: each line of orders.csv that has a batch.
void write_allocations(const fs::path& path, const Job& job) {
    std::string text = "orderid,sku,qty,batchref\n";
    for (std::size_t i = 0; i < job.batchrefs.size(); ++i) {
        if (!job.batchrefs[i]) continue;
        const OrderLine& line = job.orders[i].line;
        text += fmt::format("{},{},{},{}\n", csv::field(line.orderid), csv::field(line.sku), line.qty,
                            csv::field(*job.batchrefs[i]));
    }
    csv::write_atomically(path, text);
}

/// On SQLite: the database keeps batches and allocations between runs and decides what is already allocated.
bool allocate_in_database(const fs::path& dir, const std::string& db, Job& job) {
    const csv::DirectoryLock lock(dir);
    sqlite::Database database(sqlite::Options{.path = db});
    sqlite::UnitOfWorkFactory factory(database);
    const auto batches = new_batches(factory, dir / "batches.csv", db);
    job.orders = csv::read_orders(dir / "orders.csv");
    const fs::path output = dir / "allocations.csv";
    sqlite::Outbox outbox(database);
    auto allocate = [&] {
        with_bus(factory, outbox, job, [&](auto& bus) {
            for (const auto& command : batches) bus.handle(command);
            allocate_orders(bus, job);
        });
    };
    const std::string kept = fmt::format("{} holds the allocations made so far and {} lists them; run the job again "
                                         "to complete it", db, output.string());
    if (!run(job, allocate, [&] { write_allocations(output, job); }, kept)) return false;
    write_allocations(output, job);
    return true;
}
#endif

int allocate_csv(const fs::path& dir, const std::string& db) {
    const auto started = std::chrono::steady_clock::now();
    Job job;
#if ALLOCATION_CLI_WITH_SQLITE
    const bool finished = db.empty() ? allocate_in_directory(dir, job) : allocate_in_database(dir, db, job);
#else
    if (!db.empty()) {
        fmt::print(stderr, "allocation-cli: this build has no SQLite support; leave out --db\n");
        return 2;
    }
    const bool finished = allocate_in_directory(dir, job);
#endif
    if (!finished) return 1;
    const fs::path allocations = dir / "allocations.csv";
    if (!job.errors.empty()) {
        // The allocations are committed and recorded; only some of their event handlers failed.
        for (const auto& error : job.errors) fmt::print(stderr, "{}\n", error);
        fmt::print(stderr, "allocation-cli: the lines are allocated and recorded in {}, but the handlers above failed\n",
                   allocations.string());
        return 1;
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    fmt::print("{} lines allocated, {} already allocated, {} out of stock ({} out-of-stock notifications); {} "
               "({:.2f} s)\n", job.allocated, job.already, job.out_of_stock, job.notified, allocations.string(), seconds);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"Batch jobs of the allocation service."};
    app.require_subcommand(1);
    auto* job = app.add_subcommand(
        "allocate-csv",
        "Allocate each line of DIR/orders.csv (columns orderid,sku,qty in any order) through the message bus. "
        "Without --db, DIR/batches.csv (ref,sku,qty,eta) and DIR/allocations.csv (orderid,sku,qty,batchref) are the "
        "storage, and allocations.csv is rewritten atomically at the end; another run on DIR at the same time is "
        "refused.");
    fs::path dir;
    std::string db;
    job->add_option("DIR", dir, "Directory with batches.csv and orders.csv")->required()->check(CLI::ExistingDirectory);
    job->add_option("--db", db,
                    "SQLite database that keeps batches and allocations between runs; it decides what is already "
                    "allocated, and allocations.csv becomes its output for the lines of orders.csv");
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
