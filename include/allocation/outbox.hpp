// The outbox's rules (which events leave the process, how their rows are numbered) and the rows a commit stores:
// building blocks for adapters, as view_changes.hpp is for the read model.
#pragma once

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <variant>
#include <vector>

#include <fmt/format.h>

#include "allocation/domain/events.hpp"
#include "allocation/domain/model.hpp"
#include "allocation/ports/outbox.hpp"

namespace allocation {

/// The one rule of the outbox: an event leaves the process when someone outside must hear of it, Allocated (the
/// publisher) and OutOfStock (the notifier). Deallocated is handled inside the service, by reallocation. An event
/// type added later stays inside until it is named here.
inline bool leaves_the_process(const events::Event& event) noexcept {
    return std::holds_alternative<events::Allocated>(event) || std::holds_alternative<events::OutOfStock>(event);
}

/// The event's type as the outbox stores it, and as a relay's handlers are chosen by.
inline std::string_view event_type(const events::Event& event) noexcept {
    return std::visit(
        [](const auto& e) -> std::string_view {
            using E = std::decay_t<decltype(e)>;
            if constexpr (std::is_same_v<E, events::Allocated>) return "Allocated";
            if constexpr (std::is_same_v<E, events::Deallocated>) return "Deallocated";
            if constexpr (std::is_same_v<E, events::OutOfStock>) return "OutOfStock";
        },
        event);
}

/// Outbox times as SQL adapters store them: microseconds since the Unix epoch, the same in every process.
inline std::int64_t outbox_microseconds(ports::OutboxTime time) noexcept {
    return std::chrono::duration_cast<std::chrono::microseconds>(time.time_since_epoch()).count();
}
inline ports::OutboxTime outbox_time(std::int64_t microseconds) noexcept {
    return ports::OutboxTime(
        std::chrono::duration_cast<ports::OutboxClock::duration>(std::chrono::microseconds(microseconds)));
}

/// What an outbox id is made of.
struct OutboxKey {
    std::string_view sku;
    std::int64_t version = 0;
    std::int64_t position = 0;
    friend bool operator==(const OutboxKey&, const OutboxKey&) = default;
};

namespace detail {
inline constexpr int outbox_version_digits = 19;   // any non-negative std::int64_t
inline constexpr int outbox_position_digits = 9;
inline constexpr std::size_t outbox_id_suffix = 2 + outbox_version_digits + outbox_position_digits;

// At most 19 digits, which fit in 64 unsigned bits: read in one pass, on every delivery mark.
inline std::optional<std::int64_t> fixed_digits(std::string_view text) noexcept {
    std::uint64_t value = 0;
    for (const char c : text) {
        if (c < '0' || c > '9') return std::nullopt;
        value = value * 10 + static_cast<std::uint64_t>(c - '0');
    }
    if (text.size() > outbox_version_digits || value > static_cast<std::uint64_t>(INT64_MAX)) return std::nullopt;
    return static_cast<std::int64_t>(value);
}
}  // namespace detail

/// Writes outbox_id(sku, version, position) into `id`, in the buffer `id` already has when it is large enough.
inline void write_outbox_id(std::string& id, std::string_view sku, std::int64_t version, std::int64_t position) {
    id.assign(sku.size() + detail::outbox_id_suffix, '0');
    sku.copy(id.data(), sku.size());
    id[sku.size()] = ':';
    id[id.size() - detail::outbox_position_digits - 1] = ':';
    auto fill = [&](std::size_t end, std::int64_t value) {  // digits right-aligned before `end`, zeros kept
        for (std::size_t at = end; value > 0; value /= 10) id[--at] = static_cast<char>('0' + value % 10);
    };
    fill(id.size() - detail::outbox_position_digits - 1, version);
    fill(id.size(), position);
}

/// "SKU:VERSION:POSITION", the numbers zero-padded to a fixed width (19 and 9 digits): the fixed-width tail makes
/// the id unique whatever the SKU holds, and makes the ids of one SKU sort as their versions and positions do.
inline std::string outbox_id(std::string_view sku, std::int64_t version, std::int64_t position) {
    std::string id;
    write_outbox_id(id, sku, version, position);
    return id;
}

/// The parts of an id that outbox_id made, or nothing when `id` is not one. The SKU is a view into `id`.
inline std::optional<OutboxKey> parse_outbox_id(std::string_view id) noexcept {
    if (id.size() <= detail::outbox_id_suffix) return std::nullopt;
    const std::size_t sku_end = id.size() - detail::outbox_id_suffix;
    const std::size_t position_at = id.size() - detail::outbox_position_digits;
    if (id[sku_end] != ':' || id[position_at - 1] != ':') return std::nullopt;
    auto version = detail::fixed_digits(id.substr(sku_end + 1, detail::outbox_version_digits));
    auto position = detail::fixed_digits(id.substr(position_at));
    if (!version || !position) return std::nullopt;
    return OutboxKey{id.substr(0, sku_end), *version, *position};
}

/// How long a committed row is left to the one who committed it: it hands the row to the outbound handlers at once
/// (ports::UnitOfWork::collect_outbox), and relays claim it only after this, when that failed or never happened
/// (the process died). The relay's lease (RelayOptions::lease) for the same reason: a delivery in hand is finished
/// before anyone else may start it.
inline constexpr std::chrono::seconds outbox_handoff{30};

/// Makes `row` the row a commit stores for `event` (one that leaves the process), the `position`th of `sku` at
/// `version`, in the buffers its strings already have when they are large enough.
inline void set_outbox_message(ports::OutboxMessage& row, std::string_view sku, std::int64_t version,
                               std::int64_t position, const events::Event& event, ports::OutboxTime created_at) {
    // To the microsecond, as SQL adapters store it: the row handed over equals the row read back.
    const auto created = std::chrono::floor<std::chrono::microseconds>(created_at);
    write_outbox_id(row.id, sku, version, position);
    row.sku.assign(sku);
    row.version = version;
    row.position = position;
    row.event = event;
    row.created_at = created;
    row.attempts = 0;
    row.last_error.clear();
    row.next_attempt_at = created + outbox_handoff;
}

/// The row a commit stores for `event` (one that leaves the process), the `position`th of `sku` at `version`.
inline ports::OutboxMessage make_outbox_message(std::string_view sku, std::int64_t version, std::int64_t position,
                                                const events::Event& event, ports::OutboxTime created_at) {
    ports::OutboxMessage row;
    set_outbox_message(row, sku, version, position, event, created_at);
    return row;
}

/// Whether `product` raised, since its last commit, an event that leaves the process.
inline bool raises_outbound(const Product& product) noexcept {
    return std::any_of(product.events().begin(), product.events().end(), leaves_the_process);
}

/// Makes the rows of the events that `product` raised since its last commit and that leave the process, oldest
/// first, numbered from `first_position` at `version` (the version the product is committed with), each in the
/// `ports::OutboxMessage&` that `next_row()` returns (set_outbox_message): what a unit of work's commit stores in
/// its outbox, in the transaction of the products' changes. Returns how many.
template <typename NextRow>
std::int64_t store_outbound(const Product& product, std::int64_t version, std::int64_t first_position,
                            ports::OutboxTime created_at, NextRow&& next_row) {
    std::int64_t position = first_position;
    for (const events::Event& event : product.events()) {
        if (leaves_the_process(event)) set_outbox_message(next_row(), product.sku(), version, position++, event, created_at);
    }
    return position - first_position;
}

namespace detail {
/// The delivery marks (ports::Outbox::mark_delivered) a SQL outbox holds in memory until a write of its choosing:
/// the ids, oldest first, shared by everything that writes one database (SQLite's units of work write them in
/// their commit's transaction) and written before a claim, a purge or a count, and at flush(). Thread-safe.
class PendingMarks {
public:
    /// The ids of one write, and the time they are marked with: the latest `now` among their marks.
    struct Taken {
        std::vector<std::string> ids;
        ports::OutboxTime at{};
    };

    /// Holds the marks of `ids`; returns how many marks are held now.
    std::size_t add(std::span<const std::string> ids, ports::OutboxTime now) {
        std::lock_guard lock(mutex_);
        if (!ids.empty()) {
            held_.ids.insert(held_.ids.end(), ids.begin(), ids.end());
            held_.at = std::max(held_.at, now);
        }
        return held_.ids.size();
    }
    /// Takes every mark, for a write that restore()s them if it fails.
    Taken take() {
        std::lock_guard lock(mutex_);
        return std::exchange(held_, {});
    }
    void restore(Taken&& taken) noexcept {
        std::lock_guard lock(mutex_);
        held_.ids.insert(held_.ids.begin(), std::make_move_iterator(taken.ids.begin()),
                         std::make_move_iterator(taken.ids.end()));
        held_.at = std::max(held_.at, taken.at);
    }
    bool empty() const { return size() == 0; }
    std::size_t size() const {
        std::lock_guard lock(mutex_);
        return held_.ids.size();
    }

private:
    mutable std::mutex mutex_;
    Taken held_;
};

/// The marks one transaction writes: taken from `marks`, and put back unless that transaction committed (done()),
/// so that a failed write loses none.
class TakenMarks {
public:
    explicit TakenMarks(PendingMarks& marks) : marks_(marks), taken_(marks.take()) {}
    TakenMarks(const TakenMarks&) = delete;
    TakenMarks& operator=(const TakenMarks&) = delete;
    ~TakenMarks() {
        if (!done_) marks_.restore(std::move(taken_));
    }
    const std::vector<std::string>& ids() const noexcept { return taken_.ids; }
    ports::OutboxTime at() const noexcept { return taken_.at; }
    void done() noexcept { done_ = true; }

private:
    PendingMarks& marks_;
    PendingMarks::Taken taken_;
    bool done_ = false;
};
}  // namespace detail

}  // namespace allocation
