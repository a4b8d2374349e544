// The differential fuzzer's pieces, shared by the libFuzzer target and the Catch2 replay of its corpus: bytes
// decode to a sequence of commands, which run through the bus on the memory adapter, SQLite ":memory:", a SQLite
// file (read back through a second connection) and a deliberately simple reference model; after every command all
// four must agree on the result, the events, every batch, the allocations view and the versions.
#pragma once

#include <cxxabi.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <typeinfo>
#include <utility>
#include <variant>
#include <vector>

#include <SQLiteCpp/Database.h>
#include <fmt/format.h>

#include "allocation/adapters/memory/memory.hpp"
#include "allocation/adapters/sqlite/sqlite.hpp"
#include "allocation/allocation.hpp"

namespace allocation::differential {

/// Kinds of input the generator can leave out. A bit in the mask leaves them out: the default mask leaves out only
/// what the library does not handle by the intended rules yet, so that the run stays green; the other bits narrow a
/// search by hand (-known_defects=N).
namespace defects {
/// An eta that is not a real day of 1900-9999 (2026-02-30, 1899-12-31, 10000-01-01): the domain refuses it.
inline constexpr unsigned invalid_eta = 1U << 0;
/// ChangeBatchQuantity to 0: it releases every line of the batch.
inline constexpr unsigned zero_quantity_change = 1U << 1;
/// Ids that no adapter could store (empty, over 255 bytes, control characters, invalid UTF-8): the domain refuses them.
inline constexpr unsigned invalid_ids = 1U << 2;
/// None is known: the library handles every input by the intended rules.
inline constexpr unsigned all = 0;
}  // namespace defects

#ifndef ALLOCATION_DIFFERENTIAL_KNOWN_DEFECTS
#define ALLOCATION_DIFFERENTIAL_KNOWN_DEFECTS ::allocation::differential::defects::all
#endif
/// What a run skips unless told otherwise (-known_defects=N on the fuzzer's command line, or the environment
/// variable ALLOCATION_KNOWN_DEFECTS).
inline constexpr unsigned default_known_defects = ALLOCATION_DIFFERENTIAL_KNOWN_DEFECTS;

inline unsigned known_defects_from_environment() {
    const char* text = std::getenv("ALLOCATION_KNOWN_DEFECTS");
    return text == nullptr ? default_known_defects : static_cast<unsigned>(std::strtoul(text, nullptr, 0));
}

// --- the alphabet: small, so that ids collide -------------------------------------------------------------------

inline const std::vector<std::string>& skus() {
    static const std::vector<std::string> v{"LAMP", "DESK", "RUG"};
    return v;
}
inline const std::vector<std::string>& refs() {
    // A reference may equal a SKU; the longest valid id is 255 bytes.
    static const std::vector<std::string> v{"b1", "b2", "b3", "b4", "LAMP", std::string(255, 'r')};
    return v;
}
inline const std::vector<std::string>& orders() {
    static const std::vector<std::string> v{"o1", "o2", "o3", "o4", "caf\xc3\xa9"};
    return v;
}
/// Ids no entry point may accept.
inline const std::vector<std::string>& invalid_ids() {
    static const std::vector<std::string> v{"", std::string(256, 'x'), "tab\there", "del\x7f", "\xff\xfe", "\xc3"};
    return v;
}

inline bool valid_utf8(std::string_view s) {
    for (std::size_t i = 0; i < s.size();) {
        const auto c = static_cast<unsigned char>(s[i]);
        std::size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
        if (n == 0 || i + n > s.size()) return false;
        for (std::size_t k = 1; k < n; ++k) {
            if ((static_cast<unsigned char>(s[i + k]) >> 6) != 0x2) return false;
        }
        i += n;
    }
    return true;
}

/// The intended rule for ids, written again: 1-255 bytes of valid UTF-8 without control characters.
inline bool valid_id(std::string_view s) {
    if (s.empty() || s.size() > 255 || !valid_utf8(s)) return false;
    return std::none_of(s.begin(), s.end(), [](char ch) {
        const auto c = static_cast<unsigned char>(ch);
        return c < 0x20 || c == 0x7F;
    });
}

inline Date ymd(int y, unsigned m, unsigned d) {
    return Date{std::chrono::year{y}, std::chrono::month{m}, std::chrono::day{d}};
}

/// The intended rule for an eta, written again: a real day in the years 1900-9999.
inline bool valid_eta(const std::optional<Date>& eta) {
    return !eta || (eta->ok() && static_cast<int>(eta->year()) >= 1900 && static_cast<int>(eta->year()) <= 9999);
}

// --- decoding --------------------------------------------------------------------------------------------------

class Reader {
public:
    explicit Reader(std::span<const std::uint8_t> data) noexcept : data_(data) {}
    bool done() const noexcept { return pos_ >= data_.size(); }
    std::uint8_t next() noexcept { return done() ? 0 : data_[pos_++]; }

private:
    std::span<const std::uint8_t> data_;
    std::size_t pos_ = 0;
};

/// Bytes 0xF0-0xFF pick an invalid id (unless masked), any other byte one of `valid`.
inline std::string pick_id(std::uint8_t b, const std::vector<std::string>& valid, unsigned known) {
    if (b >= 0xF0 && !(known & defects::invalid_ids)) return invalid_ids()[(b & 0x0F) % invalid_ids().size()];
    return valid[b % valid.size()];
}

/// Low nibble 0-9: 1 + (high nibble % 10); then 0, max_quantity, max_quantity + 1, -1, INT_MIN, 1 + 7 * high.
inline int pick_qty(std::uint8_t b) {
    const int high = b >> 4;
    switch (b & 0x0F) {
        case 10: return 0;
        case 11: return max_quantity;
        case 12: return max_quantity + 1;
        case 13: return -1;
        case 14: return INT_MIN;
        case 15: return 1 + 7 * high;
        default: return 1 + high % 10;
    }
}

/// Low nibble 0-3: warehouse; 4-9: real days (including 1900-01-01, 9999-12-31, 2024-02-29); 10-15: not days of
/// 1900-9999 (mapped to real days while invalid_eta is known).
inline std::optional<Date> pick_eta(std::uint8_t b, unsigned known) {
    static const Date valid[] = {ymd(2026, 1, 1), ymd(2026, 1, 2), ymd(2026, 3, 1),
                                 ymd(1900, 1, 1), ymd(9999, 12, 31), ymd(2024, 2, 29)};
    static const Date invalid[] = {ymd(2026, 2, 30), ymd(1899, 12, 31), ymd(10000, 1, 1),
                                   ymd(2025, 2, 29), ymd(2026, 13, 1), ymd(2026, 1, 0)};
    const unsigned n = b & 0x0F;
    if (n < 4) return std::nullopt;
    if (n < 10) return valid[n - 4];
    return (known & defects::invalid_eta) ? valid[n - 10] : invalid[n - 10];
}

/// One command from the next bytes: kind (0-1 CreateBatch, 2-5 Allocate, 6-7 ChangeBatchQuantity), then fields.
inline commands::Command decode_command(Reader& r, unsigned known) {
    const std::uint8_t kind = r.next() % 8;
    if (kind < 2) {
        commands::CreateBatch c;
        c.ref = pick_id(r.next(), refs(), known);
        c.sku = pick_id(r.next(), skus(), known);
        c.qty = pick_qty(r.next());
        c.eta = pick_eta(r.next(), known);
        return c;
    }
    if (kind < 6) {
        commands::Allocate c;
        c.orderid = pick_id(r.next(), orders(), known);
        c.sku = pick_id(r.next(), skus(), known);
        c.qty = pick_qty(r.next());
        return c;
    }
    commands::ChangeBatchQuantity c;
    c.ref = pick_id(r.next(), refs(), known);
    c.qty = pick_qty(r.next());
    if (c.qty == 0 && (known & defects::zero_quantity_change)) c.qty = 1;
    return c;
}

// --- what is compared ---------------------------------------------------------------------------------------------

/// The outcome of one command: the batch reference (Allocate), the error type, and every event raised, in order.
struct Outcome {
    std::optional<std::string> batchref;
    std::string error;  // empty: it succeeded; "allocation::Error" from the reference: any domain error will do
    std::string message;
    std::vector<events::Event> events;
    std::vector<std::string> handler_failures;
};

struct BatchState {
    std::string ref;
    int purchased = 0;
    int available = 0;
    std::optional<Date> eta;
    friend bool operator==(const BatchState&, const BatchState&) = default;
};
struct ProductState {
    std::int64_t version = 0;
    std::vector<BatchState> batches;  // in the order they were added
    std::vector<OrderLine> waiting;   // oldest first
    friend bool operator==(const ProductState&, const ProductState&) = default;
};
/// Committed state as a fresh unit of work and the read model see it.
struct Snapshot {
    std::map<std::string, ProductState> products;
    std::map<std::string, std::vector<ports::AllocationRow>> allocations;
    std::string error;
    friend bool operator==(const Snapshot&, const Snapshot&) = default;
};

inline std::string type_name(const std::exception& e) {
    int status = 0;
    std::unique_ptr<char, void (*)(void*)> name(abi::__cxa_demangle(typeid(e).name(), nullptr, nullptr, &status),
                                                std::free);
    return status == 0 && name ? std::string(name.get()) : std::string(typeid(e).name());
}

inline std::string describe(const std::optional<Date>& d) { return d ? to_string(*d) : "warehouse"; }

inline std::string describe(const Snapshot& s) {
    std::string out = s.error.empty() ? "" : "error " + s.error + "; ";
    for (const auto& [sku, p] : s.products) {
        out += fmt::format("{} v{} [", sku, p.version);
        for (const auto& b : p.batches) {
            out += fmt::format(" {}:{}/{}@{}", b.ref.size() > 8 ? b.ref.substr(0, 8) + "..." : b.ref, b.available,
                               b.purchased, describe(b.eta));
        }
        out += " ]";
        for (const auto& w : p.waiting) out += fmt::format(" waits:{}/{}", w.orderid, w.qty);
        out += " ";
    }
    for (const auto& [order, rows] : s.allocations) {
        if (rows.empty()) continue;
        out += order + "{";
        for (const auto& row : rows) out += " " + row.sku + "->" + row.batchref.substr(0, 8);
        out += " } ";
    }
    return out;
}

inline std::string describe(const Outcome& o) {
    std::string out = o.error.empty() ? fmt::format("ok {}", o.batchref ? *o.batchref : "(none)")
                                      : fmt::format("{} ({})", o.error, o.message);
    for (const auto& e : o.events) out += fmt::format(" | {}", e);
    for (const auto& f : o.handler_failures) out += " | handler failed: " + f;
    return out;
}

// --- the systems under test -------------------------------------------------------------------------------------

/// A bus over one adapter, whose commits' outbox rows go to a recording notifier and publisher, and subscribers that
/// record every event.
template <typename Factory, typename Outbox>
class BusSystem {
public:
    BusSystem(Factory factory, Outbox& outbox)
        : relay_(outbox, Outbound(notifier_, publisher_), relay_options()), bus_(bootstrap(factory, relay_, options())),
          factory_(factory) {
        bus_.template subscribe<events::Allocated>([this](const events::Allocated& e) { recorded_.emplace_back(e); });
        bus_.template subscribe<events::Deallocated>([this](const events::Deallocated& e) { recorded_.emplace_back(e); });
        bus_.template subscribe<events::OutOfStock>([this](const events::OutOfStock& e) { recorded_.emplace_back(e); });
    }
    BusSystem(const BusSystem&) = delete;
    BusSystem& operator=(const BusSystem&) = delete;

    Outcome handle(const commands::Command& command) {
        Outcome out;
        try {
            if (const auto* allocate = std::get_if<commands::Allocate>(&command)) {
                out.batchref = bus_.handle(*allocate);
            } else {
                std::visit([&](const auto& c) { bus_.handle(c); }, command);
            }
        } catch (const std::exception& e) {
            out.error = type_name(e);
            out.message = e.what();
        }
        out.events = std::exchange(recorded_, {});
        out.handler_failures = std::exchange(failures_, {});
        return out;
    }

    /// The committed products and read model, through a fresh unit of work of `factory` and `view`.
    template <typename ReadFactory, typename View>
    static Snapshot read(ReadFactory& factory, const View& view) {
        Snapshot s;
        try {
            auto uow = factory();
            for (const std::string& sku : skus()) {
                const Product* p = uow.products().get(sku);
                if (p == nullptr) continue;
                ProductState& state = s.products[sku];
                state.version = p->version_number();
                for (const Batch& b : p->batches()) {
                    state.batches.push_back({b.reference(), b.purchased_quantity(), b.available_quantity(), b.eta()});
                }
                state.waiting.assign(p->waiting().begin(), p->waiting().end());
            }
        } catch (const std::exception& e) {
            s.error = type_name(e) + ": " + e.what();
        }
        try {
            for (const std::string& order : orders()) {
                auto rows = views::allocations(order, view);
                if (!rows.empty()) s.allocations[order] = std::move(rows);
            }
        } catch (const std::exception& e) {
            s.error += type_name(e) + ": " + e.what();
        }
        return s;
    }

    Factory& factory() noexcept { return factory_; }

private:
    using Outbound = handlers::Outbound<memory::RecordingNotifier, memory::RecordingPublisher>;

    BusOptions options() {
        BusOptions o;
        o.on_error = [this](const events::Event& event, std::string_view handler, const std::exception& error) {
            failures_.push_back(fmt::format("{} on {}: {}", handler, event, error.what()));
        };
        return o;
    }
    RelayOptions relay_options() {
        RelayOptions o;
        o.on_error = [this](std::string_view doing, const std::exception& error) {
            failures_.push_back(fmt::format("{}: {}", doing, error.what()));
        };
        return o;
    }

    memory::RecordingNotifier notifier_;
    memory::RecordingPublisher publisher_;
    std::vector<events::Event> recorded_;
    std::vector<std::string> failures_;
    Relay<Outbox, Outbound> relay_;
    MessageBus<Factory, Relay<Outbox, Outbound>> bus_;
    Factory factory_;
};

class MemorySystem {
public:
    static constexpr const char* name = "memory";
    Outcome handle(const commands::Command& c) { return bus_.handle(c); }
    Snapshot snapshot() { return Bus::read(bus_.factory(), store_.allocations()); }

private:
    using Bus = BusSystem<memory::UnitOfWorkFactory, memory::Outbox>;
    memory::Store store_;
    Bus bus_{memory::UnitOfWorkFactory(store_), store_.outbox()};
};

class SqliteMemorySystem {
public:
    static constexpr const char* name = "sqlite-memory";
    Outcome handle(const commands::Command& c) { return bus_.handle(c); }
    Snapshot snapshot() { return Bus::read(bus_.factory(), view_); }

private:
    using Bus = BusSystem<sqlite::UnitOfWorkFactory, sqlite::Outbox>;
    sqlite::Database db_{sqlite::Options{":memory:"}};
    sqlite::AllocationsView view_{db_};
    sqlite::Outbox outbox_{db_};
    Bus bus_{sqlite::UnitOfWorkFactory(db_), outbox_};
};

/// Empties every table of an existing database file, keeping its schema: much faster than a new file.
inline void truncate_database(const std::string& path) {
    if (!std::filesystem::exists(path)) return;
    SQLite::Database raw(path, SQLite::OPEN_READWRITE);
    std::vector<std::string> tables;
    SQLite::Statement list(raw, "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'");
    while (list.executeStep()) tables.push_back(list.getColumn(0).getString());
    std::string sql = "BEGIN;";
    for (const auto& t : tables) sql += "DELETE FROM \"" + t + "\";";
    raw.exec(sql + "COMMIT;");
}

/// A SQLite file, written through the bus and read back through a second Database (its own connections and
/// product caches). The file is reused: emptied before the Databases open, so no cache outlives it.
class SqliteFileSystem {
public:
    static constexpr const char* name = "sqlite-file";
    explicit SqliteFileSystem(const std::string& path) : writer_(emptied(path)), reader_(opts(path)) {}
    Outcome handle(const commands::Command& c) { return bus_.handle(c); }
    Snapshot snapshot() {
        sqlite::UnitOfWorkFactory factory(reader_);
        return Bus::read(factory, reader_view_);
    }

private:
    static sqlite::Options emptied(const std::string& path) {
        truncate_database(path);
        return opts(path);
    }
    static sqlite::Options opts(const std::string& path) {
        sqlite::Options o{path};
        o.synchronous = sqlite::Synchronous::normal;
        return o;
    }
    using Bus = BusSystem<sqlite::UnitOfWorkFactory, sqlite::Outbox>;
    sqlite::Database writer_;
    sqlite::Database reader_;
    sqlite::AllocationsView reader_view_{reader_};
    sqlite::Outbox outbox_{writer_};
    Bus bus_{sqlite::UnitOfWorkFactory(writer_), outbox_};
};

// --- the reference model: the rules as the design states them, in as few lines as will do ------------------------

class Reference {
public:
    static constexpr const char* name = "reference";

    Outcome handle(const commands::Command& command) {
        Outcome out;
        std::vector<events::Event> queue;
        try {
            std::visit([&](const auto& c) { run(c, out, queue); }, command);
        } catch (const Refused& r) {
            out.error = r.type;
            return out;
        }
        out.events = std::move(queue);
        return out;
    }

    Snapshot snapshot() const {
        Snapshot s;
        for (const auto& p : products_) {
            ProductState& state = s.products[p.sku];
            state.version = p.version;
            for (const auto& b : p.batches) {
                int allocated = 0;
                for (const auto& l : b.lines) allocated += l.qty;
                state.batches.push_back({b.ref, b.purchased, b.purchased - allocated, b.eta});
            }
            for (const auto& w : waiting_) {
                if (w.sku == p.sku) state.waiting.push_back(w);
            }
        }
        for (const auto& [order, sku, batchref] : view_) s.allocations[order].push_back({sku, batchref});
        return s;
    }

private:
    struct Refused {
        std::string type;
    };
    struct RefBatch {
        std::string ref;
        std::string sku;
        int purchased;
        std::optional<Date> eta;
        std::vector<OrderLine> lines;  // oldest first
        int available() const {
            int n = purchased;
            for (const auto& l : lines) n -= l.qty;
            return n;
        }
    };
    struct RefProduct {
        std::string sku;
        std::int64_t version = 0;
        std::vector<RefBatch> batches;  // in the order they were added
    };
    struct Row {
        std::string order, sku, batchref;
    };

    static void require(bool ok, const char* type) {
        if (!ok) throw Refused{type};
    }
    static bool good_qty(int q, int least = 1) { return q >= least && q <= max_quantity; }

    RefProduct* product(std::string_view sku) {
        for (auto& p : products_) {
            if (p.sku == sku) return &p;
        }
        return nullptr;
    }
    RefBatch* batch(std::string_view ref) {
        for (auto& p : products_) {
            for (auto& b : p.batches) {
                if (b.ref == ref) return &b;
            }
        }
        return nullptr;
    }

    // Warehouse stock first, then the earliest eta; among equals, the batch added first. Allocated or OutOfStock.
    bool place(RefProduct& p, const OrderLine& line, std::vector<events::Event>& queue) {
        std::vector<RefBatch*> order;
        for (auto& b : p.batches) order.push_back(&b);
        std::stable_sort(order.begin(), order.end(), [](RefBatch* a, RefBatch* b) { return a->eta < b->eta; });
        for (RefBatch* b : order) {
            if (b->available() < line.qty) continue;
            b->lines.push_back(line);
            ++p.version;
            queue.emplace_back(events::Allocated{line.orderid, line.sku, line.qty, b->ref});
            view_add(line.orderid, line.sku, b->ref);
            return true;
        }
        queue.emplace_back(events::OutOfStock{p.sku});
        return false;
    }

    void view_add(const std::string& order, const std::string& sku, const std::string& ref) {
        for (auto& row : view_) {
            if (row.order == order && row.sku == sku) {
                row.batchref = ref;
                return;
            }
        }
        view_.push_back({order, sku, ref});
    }

    // Waiting lines of this SKU, oldest first, get the stock that just arrived.
    void place_waiting(RefProduct& p, std::vector<events::Event>& queue) {
        for (auto it = waiting_.begin(); it != waiting_.end();) {
            std::vector<events::Event> tried;
            if (it->sku == p.sku && place(p, *it, tried)) {
                queue.insert(queue.end(), tried.begin(), tried.end());
                it = waiting_.erase(it);
            } else {
                ++it;
            }
        }
    }

    void run(const commands::CreateBatch& c, Outcome&, std::vector<events::Event>& queue) {
        require(valid_id(c.ref) && valid_id(c.sku) && valid_eta(c.eta), "allocation::Error");
        require(good_qty(c.qty), "allocation::InvalidQuantity");
        require(batch(c.ref) == nullptr, "allocation::DuplicateBatch");
        RefProduct* p = product(c.sku);
        if (p == nullptr) p = &products_.emplace_back(RefProduct{c.sku, 0, {}});
        p->batches.push_back(RefBatch{c.ref, c.sku, c.qty, c.eta, {}});
        ++p->version;
        place_waiting(*p, queue);
    }

    void run(const commands::Allocate& c, Outcome& out, std::vector<events::Event>& queue) {
        require(valid_id(c.orderid) && valid_id(c.sku), "allocation::Error");
        require(good_qty(c.qty), "allocation::InvalidQuantity");
        RefProduct* p = product(c.sku);
        require(p != nullptr, "allocation::InvalidSku");
        for (auto& b : p->batches) {
            for (const auto& l : b.lines) {
                if (l.orderid != c.orderid) continue;
                require(l.qty == c.qty, "allocation::DuplicateLine");
                out.batchref = b.ref;  // allocated once: asking again changes nothing
                return;
            }
        }
        for (const auto& w : waiting_) {
            if (w.orderid != c.orderid || w.sku != c.sku) continue;
            require(w.qty == c.qty, "allocation::DuplicateLine");
            return;  // waiting: asking again changes nothing, and answers no batch
        }
        OrderLine line{c.orderid, c.sku, c.qty};
        if (place(*p, line, queue)) out.batchref = std::get<events::Allocated>(queue.back()).batchref;
    }

    void run(const commands::ChangeBatchQuantity& c, Outcome&, std::vector<events::Event>& queue) {
        require(valid_id(c.ref), "allocation::Error");
        require(good_qty(c.qty, 0), "allocation::InvalidQuantity");
        RefBatch* b = batch(c.ref);
        require(b != nullptr, "allocation::UnknownBatch");
        RefProduct* p = product(b->sku);
        b->purchased = c.qty;
        ++p->version;
        std::vector<OrderLine> released;
        while (b->available() < 0) {  // the newest lines leave first
            released.push_back(b->lines.back());
            b->lines.pop_back();
            const OrderLine& line = released.back();
            std::erase_if(view_, [&](const Row& r) { return r.order == line.orderid && r.sku == line.sku; });
            queue.emplace_back(events::Deallocated{line.orderid, line.sku, line.qty});
        }
        // In the same change, each goes to a batch again, in that order, or waits for stock.
        for (const OrderLine& line : released) {
            if (!place(*p, line, queue)) waiting_.push_back(line);
        }
        place_waiting(*p, queue);
    }

    std::vector<RefProduct> products_;
    std::vector<Row> view_;  // in the order rows were added
    std::vector<OrderLine> waiting_;
};

// --- running and comparing ----------------------------------------------------------------------------------------

inline bool is_domain_error(const std::string& type) {
    return type.rfind("allocation::", 0) == 0 && type != "allocation::StorageError" &&
           type != "allocation::ConcurrencyError";
}

/// Whether an adapter's outcome is what the reference expects: the same result, error type and events.
inline bool agrees(const Outcome& expected, const Outcome& actual) {
    if (!actual.handler_failures.empty()) return false;
    if (expected.error == "allocation::Error") return is_domain_error(actual.error) && actual.events.empty();
    return expected.error == actual.error && expected.batchref == actual.batchref && expected.events == actual.events;
}

/// The most commands one input runs: longer inputs are cut, so that a run stays fast.
inline constexpr std::size_t max_commands = 48;

/// Runs the commands `data` decodes to on every system; returns a description of the first disagreement, with
/// the commands that led to it, or nothing when all agree after every command.
inline std::optional<std::string> run(std::span<const std::uint8_t> data, unsigned known,
                                      const std::string& sqlite_file) {
    Reference reference;
    MemorySystem memory;
    SqliteMemorySystem sqlite_memory;
    SqliteFileSystem sqlite_file_system(sqlite_file);
    Reader reader(data);
    std::string history;
    for (std::size_t step = 0; step < max_commands && !reader.done(); ++step) {
        const commands::Command command = decode_command(reader, known);
        const Outcome expected = reference.handle(command);
        history += fmt::format("  {}\n", command);

        const Outcome outcomes[] = {memory.handle(command), sqlite_memory.handle(command),
                                    sqlite_file_system.handle(command)};
        const char* names[] = {MemorySystem::name, SqliteMemorySystem::name, SqliteFileSystem::name};
        for (std::size_t i = 0; i < 3; ++i) {
            // Where the reference accepts any domain error, the adapters must still agree with each other.
            const bool same_as_memory = i == 0 || (outcomes[i].error == outcomes[0].error &&
                                                   outcomes[i].batchref == outcomes[0].batchref &&
                                                   outcomes[i].events == outcomes[0].events);
            if (!agrees(expected, outcomes[i]) || !same_as_memory) {
                return fmt::format("{} disagrees on the last of:\n{}  reference: {}\n  {}: {}\n  memory: {}\n", names[i],
                                   history, describe(expected), names[i], describe(outcomes[i]),
                                   describe(outcomes[0]));
            }
        }
        const Snapshot want = reference.snapshot();
        const Snapshot got[] = {memory.snapshot(), sqlite_memory.snapshot(), sqlite_file_system.snapshot()};
        for (std::size_t i = 0; i < 3; ++i) {
            if (!(got[i] == want)) {
                return fmt::format("{} has another state after the last of:\n{}  reference: {}\n  {}: {}\n", names[i],
                                   history, describe(want), names[i], describe(got[i]));
            }
        }
    }
    return std::nullopt;
}

}  // namespace allocation::differential
