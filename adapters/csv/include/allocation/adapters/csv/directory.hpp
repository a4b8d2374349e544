// A directory of CSV files as the storage of products: batches.csv and allocations.csv, the book's appendix C.
#pragma once

#include <algorithm>
#include <filesystem>
#include <limits>
#include <map>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include <fmt/format.h>

#include "allocation/adapters/csv/files.hpp"
#include "allocation/adapters/csv/parser.hpp"
#include "allocation/adapters/csv/rows.hpp"
#include "allocation/adapters/memory/memory.hpp"
#include "allocation/domain/errors.hpp"
#include "allocation/domain/rules.hpp"
#include "allocation/domain/model.hpp"

namespace allocation::csv {

struct Options {
    std::filesystem::path directory;
    /// Whether a directory without batches.csv is an empty one (true) or an error naming the file (false).
    bool create = false;
    /// Whether every commit rewrites the files (true, the port's durability), or only save() does (false): a job
    /// of a million commits cannot rewrite a million-line file at each of them. Until save(), what was committed
    /// is seen by every later unit of work of this Directory, and lost by a crash.
    bool save_on_commit = true;
};

/// The products of a directory, loaded from batches.csv and allocations.csv when it is opened, and held in an
/// in-memory store (allocation::memory) for as long as it is open, under an flock on the directory.
///
/// allocations.csv has a row per line: orderid,sku,qty,batchref, with an empty batchref for a line waiting for
/// stock. Loading checks each row (file:line:column) and then the domain's rules for stored state (a batch holds
/// no more than it has, an order is in one batch per SKU); a file that breaks one is refused, naming where.
///
/// What files cannot keep, against the ports' rules: the read model is rebuilt from allocations.csv's lines when
/// the directory is opened, so a row added through allocations() without a line, the outbox and the processed
/// message ids live only as long as the Directory; version numbers start again at 1. Optimistic concurrency
/// between processes is replaced by the lock: one process at a time has the directory (DirectoryBusy).
class Directory {
public:
    /// Locks the directory and loads it. Throws DirectoryBusy, InputError (a row or a rule, with its place), or
    /// FileError.
    explicit Directory(Options options)
        : options_(std::move(options)), lock_(options_.directory) {
        load();
    }
    Directory(const Directory&) = delete;
    Directory& operator=(const Directory&) = delete;

    const std::filesystem::path& path() const noexcept { return options_.directory; }
    std::filesystem::path batches_path() const { return options_.directory / "batches.csv"; }
    std::filesystem::path allocations_path() const { return options_.directory / "allocations.csv"; }

    /// The read model, for queries; see the class comment for what outlives the Directory.
    memory::AllocationsView& allocations() noexcept { return store_.allocations(); }
    /// In memory only: a CSV directory has no outbox that survives it.
    memory::Outbox& outbox() noexcept { return store_.outbox(); }

    /// Writes what was committed since the last write (with save_on_commit false): atomically per file, in an
    /// order that leaves the files consistent after a crash at any point. Throws FileError; a call after a
    /// failure writes again.
    void save() {
        memory::UnitOfWork hold(store_);  // the store's lock: no unit of work changes products while they are written
        if (dirty_) write_files();
    }

private:
    friend class UnitOfWork;

    // Called by a unit of work before its in-memory commit, holding the store's lock: notes what changed and
    // writes it (save_on_commit), so that a failed write leaves the unit of work uncommitted.
    void committing(std::span<Product* const> seen) {
        bool changed = false;
        for (const Product* product : seen) changed = changed || !product->changes().empty();
        if (!changed) return;
        dirty_ = true;
        if (options_.save_on_commit) write_files();
    }

    struct Loaded {
        std::vector<OrderLine> lines;
        long long quantity = 0;
        Location last;  // the last row naming the batch (or the SKU)
    };
    struct Grouped {
        std::unordered_map<std::string, Loaded> by_batch;  // the allocated lines
        std::unordered_map<std::string, Loaded> by_sku;    // the waiting lines, and the last row of each SKU
    };

    void load() {
        std::vector<BatchRow> batches;
        if (!options_.create || std::filesystem::exists(batches_path())) batches = read_batches(batches_path());
        std::vector<AllocationRow> rows;
        if (std::filesystem::exists(allocations_path())) rows = read_allocations(allocations_path());
        Grouped grouped = group(batches, rows);
        std::map<std::string, std::vector<Batch>> by_sku;
        for (const BatchRow& b : batches) by_sku[b.sku].push_back(rebuild(b, grouped.by_batch[b.ref]));
        memory::UnitOfWork uow(store_);
        for (auto& [sku, list] : by_sku) {
            Product& product = uow.products().add(rebuilt_product(sku, std::move(list), grouped.by_sku[sku]));
            for (const Batch& batch : product.batches()) {
                for (const OrderLine& line : batch.allocations()) store_.allocations().add(line.orderid, sku, batch.reference());
            }
        }
        uow.commit();
        for (const BatchRow& b : batches) written_.emplace(b.ref, b.qty);
    }

    // The lines of allocations.csv by batch and the waiting ones by SKU; a row naming no batch of its SKU, or a
    // waiting line of a SKU without batches, is refused.
    static Grouped group(const std::vector<BatchRow>& batches, const std::vector<AllocationRow>& rows) {
        std::unordered_map<std::string, const BatchRow*> by_ref;
        for (const BatchRow& b : batches) by_ref.emplace(b.ref, &b);
        Grouped grouped;
        for (const AllocationRow& row : rows) {
            Loaded& of_sku = grouped.by_sku[row.line.sku];
            of_sku.last = row.where;
            if (row.batchref.empty()) {
                of_sku.lines.push_back(row.line);
                continue;
            }
            auto it = by_ref.find(row.batchref);
            if (it == by_ref.end() || it->second->sku != row.line.sku) {
                throw InputError(row.where, fmt::format("batch {} of sku {} is not in batches.csv", row.batchref,
                                                        row.line.sku));
            }
            Loaded& loaded = grouped.by_batch[row.batchref];
            loaded.lines.push_back(row.line);
            loaded.quantity += row.line.qty;
            loaded.last = row.where;
        }
        for (const auto& entry : grouped.by_sku) {
            const std::string& sku = entry.first;
            if (entry.second.lines.empty()) continue;
            auto of_this_sku = [&sku](const BatchRow& b) { return b.sku == sku; };
            if (std::none_of(batches.begin(), batches.end(), of_this_sku)) {
                throw InputError(entry.second.last, fmt::format("sku {} has no batch in batches.csv", sku));
            }
        }
        return grouped;
    }

    // The domain checks the stored state; the file says where it is.
    static Batch rebuild(const BatchRow& b, Loaded& loaded) {
        constexpr long long most = std::numeric_limits<Quantity>::max();
        try {
            return Batch(b.ref, b.sku, b.qty, b.eta, std::move(loaded.lines),
                         static_cast<Quantity>(std::min(loaded.quantity, most)));
        } catch (const CorruptData& error) {
            throw InputError(loaded.last, error.what());
        }
    }

    static Product rebuilt_product(const std::string& sku, std::vector<Batch> batches, Loaded& of_sku) {
        try {
            return Product(sku, std::move(batches), 1, std::move(of_sku.lines));
        } catch (const CorruptData& error) {
            throw InputError(of_sku.last, error.what());
        }
    }

    std::vector<const Product*> sorted_products() const {
        std::vector<const Product*> products;
        store_.for_each_product([&](const Product& p) { products.push_back(&p); });
        std::sort(products.begin(), products.end(), [](auto* a, auto* b) { return a->sku() < b->sku(); });
        return products;
    }

    // batches.csv with, for each batch, `qty(batch)`.
    template <typename Qty>
    static std::string batches_text(const std::vector<const Product*>& products, Qty&& qty) {
        std::string out = "ref,sku,qty,eta\n";
        for (const Product* product : products) {
            for (const Batch& b : product->batches()) {
                out += fmt::format("{},{},{},{}\n", field(b.reference()), field(b.sku()), qty(b),
                                   b.eta() ? to_string(*b.eta()) : std::string());
            }
        }
        return out;
    }

    static std::string allocations_text(const std::vector<const Product*>& products) {
        std::string out = "orderid,sku,qty,batchref\n";
        auto row = [&out](const OrderLine& line, std::string_view batchref) {
            out += field(line.orderid);
            out += ',';
            out += field(line.sku);
            out += fmt::format(",{},", line.qty);
            out += field(batchref);
            out += '\n';
        };
        for (const Product* product : products) {
            for (const Batch& b : product->batches()) {
                for (const OrderLine& line : b.allocations()) row(line, b.reference());
            }
            for (const OrderLine& line : product->waiting()) row(line, "");
        }
        return out;
    }

    // Batches first with every batch and the larger of its old and new quantity, then the lines, then the batches
    // as they are: after a crash between any two renames, every line names a batch that is there and can hold it.
    void write_files() {
        const auto products = sorted_products();
        bool batches_changed = false;
        const std::string interim = batches_text(products, [&](const Batch& b) {
            auto it = written_.find(b.reference());
            if (it == written_.end() || it->second != b.purchased_quantity()) batches_changed = true;
            return it == written_.end() ? b.purchased_quantity() : std::max(it->second, b.purchased_quantity());
        });
        const std::string final_batches = batches_text(products, [](const Batch& b) { return b.purchased_quantity(); });
        if (batches_changed) write_atomically(batches_path(), interim);
        write_atomically(allocations_path(), allocations_text(products));
        if (batches_changed && interim != final_batches) write_atomically(batches_path(), final_batches);
        if (batches_changed) {
            written_.clear();
            for (const Product* product : products) {
                for (const Batch& b : product->batches()) written_.emplace(b.reference(), b.purchased_quantity());
            }
        }
        dirty_ = false;
    }

    Options options_;
    DirectoryLock lock_;
    memory::Store store_;
    std::unordered_map<std::string, Quantity> written_;  // batch reference -> purchased quantity in batches.csv
    bool dirty_ = false;
};

}  // namespace allocation::csv
