// The Product aggregate: every batch of one SKU, the consistency boundary of every change to them.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "allocation/detail/flat_map.hpp"
#include "allocation/detail/reserve_more.hpp"
#include "allocation/domain/batch.hpp"
#include "allocation/domain/changes.hpp"
#include "allocation/domain/errors.hpp"
#include "allocation/domain/events.hpp"
#include "allocation/domain/order_line.hpp"
#include "allocation/domain/rules.hpp"

namespace allocation {

namespace detail {
/// A product's lines all share its SKU and an order has one line per SKU, so the index keys lines by order id.
struct LineKey {
    std::string orderid;
    LineKey() = default;
    explicit LineKey(const OrderLine& line) : orderid(line.orderid) {}
    friend bool operator==(const LineKey&, const LineKey&) = default;
};
/// Hashes a LineKey, or an OrderLine as its key, so that the index is searched without copying the order id.
struct LineKeyHash {
    std::size_t operator()(const LineKey& key) const noexcept { return std::hash<std::string_view>{}(key.orderid); }
    std::size_t operator()(const OrderLine& line) const noexcept { return std::hash<std::string_view>{}(line.orderid); }
};
struct LineKeyEqual {
    bool operator()(const LineKey& a, const LineKey& b) const noexcept { return a == b; }
    bool operator()(const LineKey& key, const OrderLine& line) const noexcept { return key.orderid == line.orderid; }
};
/// Where an allocated line sits, and its quantity (which, with the order id and the product's SKU, makes the line).
struct LineSlot {
    std::uint32_t slot;
    Quantity qty;
};
}  // namespace detail

inline void mark_committed(std::span<Product* const> products, std::vector<events::Event>& out);

/// Numbers the events that the products of one unit of work raise, in the order they raise them, so that a commit
/// of several products hands their events over in that order. The unit of work owns it (its products are changed
/// by its one thread) and gives it to every product it hands out: Product::number_events_from.
class EventSequence {
public:
    std::uint64_t next() noexcept { return next_++; }

private:
    std::uint64_t next_ = 0;
};

namespace detail {
/// The sequence a unit of work gave a product. A copy or a move of the product does not keep it: the product it
/// makes was not handed out by that unit of work, which may end first.
struct SequenceLink {
    EventSequence* sequence = nullptr;
    SequenceLink() = default;
    SequenceLink(const SequenceLink&) noexcept {}
    SequenceLink& operator=(const SequenceLink&) noexcept {
        sequence = nullptr;
        return *this;
    }
    ~SequenceLink() = default;
};
}  // namespace detail

/// The aggregate: every batch of one SKU. All changes to batches go through it; each change bumps
/// `version_number`, which adapters use for optimistic concurrency.
///
/// A line that was allocated is never dropped. When a batch shrinks, the lines that no longer fit are allocated
/// again in the same change, and a line that no batch can take becomes a waiting line of the product (OutOfStock
/// is raised, as for any line without stock). Waiting lines are allocated, oldest first, in the change that
/// brings stock for them: a new batch, or a batch quantity that changes. So at the end of every change no waiting
/// line fits any batch. Only lines that were once allocated wait: allocate() of a new line without stock raises
/// OutOfStock and keeps nothing.
///
/// Every mutator is strongly exception-safe: it makes and reserves whatever it needs first and changes the
/// product last, without anything that can throw, so a failure (std::bad_alloc included) leaves the product
/// exactly as it was and every change that did happen is recorded for discard_changes.
class Product {
public:
    /// A product with its batches (new or rebuilt from storage). Throws InvalidId for a bad SKU, InvalidSku for a
    /// batch of another SKU, and CorruptData for two batches with one reference or an order in two batches.
    /// `waiting` are its waiting lines, oldest first; CorruptData for one that breaks a rule or whose order also
    /// has a line in a batch.
    explicit Product(std::string sku, std::vector<Batch> batches = {}, std::int64_t version_number = 0,
                     std::vector<OrderLine> waiting = {})
        : sku_(std::move(sku)), batches_(std::move(batches)), waiting_(std::move(waiting)), version_(version_number),
          loaded_version_(version_number) {
        check_id(sku_, "sku");
        check_unique_references();
        order_.reserve(batches_.size());
        for (std::uint32_t slot = 0; slot < batches_.size(); ++slot) {
            if (batches_[slot].sku() != sku_) throw InvalidSku(batches_[slot].sku());
            insert_in_order(slot);
            index_lines(slot);
        }
        index_waiting();
    }

    const std::string& sku() const noexcept { return sku_; }
    std::int64_t version_number() const noexcept { return version_; }
    /// Batches in the order they were added.
    std::span<const Batch> batches() const noexcept { return batches_; }
    const Batch* batch(std::string_view reference) const noexcept {
        auto slot = find_slot(reference);
        return slot ? &batches_[*slot] : nullptr;
    }
    /// The lines waiting for stock, oldest first (every one: adapters always load them).
    std::span<const OrderLine> waiting() const noexcept { return waiting_; }
    /// Whether `line` is one of the waiting lines.
    bool is_waiting(const OrderLine& line) const {
        const detail::LineSlot* entry = index_.find(line);
        return entry != nullptr && entry->slot == waiting_slot && entry->qty == line.qty;
    }

    /// Adds a new batch of this product's SKU, with nothing allocated yet (lines are allocated through the
    /// product), and allocates to it the waiting lines it can take, oldest first. Throws DuplicateBatch if the
    /// reference is taken here.
    void add_batch(Batch batch) {
        if (batch.sku() != sku_) throw InvalidSku(batch.sku());
        if (batch.allocated_quantity() != 0) {
            throw std::invalid_argument("batch " + batch.reference() +
                                        " already has allocations; add_batch takes a new batch");
        }
        if (find_slot(batch.reference())) throw DuplicateBatch(batch.reference());
        as_one_change([&] {
            append_batch(std::move(batch));
            allocate_waiting();
        });
    }

    /// Allocates the line to the preferred batch that can take it (warehouse first, then earliest eta)
    /// and returns that batch's reference. A line already allocated stays where it is and nothing changes; a
    /// line that is waiting keeps waiting, in its place, and nothing changes either (the answer is no batch,
    /// and no event is raised: asking again is not news). Another quantity for an order that already has a line
    /// of this SKU, allocated or waiting, throws DuplicateLine. When no batch can take a new line, raises
    /// OutOfStock and returns nothing; the line is not kept.
    std::optional<std::string> allocate(OrderLine line) {
        if (line.sku != sku_) throw InvalidSku(line.sku);
        check_quantity(line.qty);
        check_id(line.orderid, "order id");
        const std::uint32_t slot = preferred_slot(line.qty);
        if (slot == no_slot) {
            if (const detail::LineSlot* entry = index_.find(line)) return allocated_before(*entry, line);
            raise(events::OutOfStock{sku_});
            return std::nullopt;
        }
        Batch& batch = batches_[slot];
        detail::reserve_more(batch.lines_, 1);
        detail::reserve_more(changes_, 1);
        reserve_events(1);
        changes::LineAllocated change{slot, line};
        events::Allocated allocated{line.orderid, line.sku, line.qty, batch.reference()};
        // The last step that may throw; one hash lookup both asks whether the order has a line here and
        // reserves its entry if it has not.
        auto [entry, is_new] = index_.try_emplace(line, detail::LineSlot{slot, line.qty});
        if (!is_new) return allocated_before(*entry, line);
        add_allocation(slot, std::move(line), std::move(change), std::move(allocated));
        return batch.reference();
    }

    /// Sets the purchased quantity of a batch (0 cancels it). While it is over-allocated, its most recent lines
    /// are deallocated, newest first, each raising Deallocated; in the same change each of them is allocated
    /// again, in that order, to the preferred batch that can take it (Allocated), or else waits for stock
    /// (OutOfStock). Then the waiting lines, oldest first, take whatever stock is left.
    void change_batch_quantity(std::string_view reference, Quantity qty) {
        auto slot = find_slot(reference);
        if (!slot) throw UnknownBatch(reference);
        check_quantity(qty, "qty", min_changed_quantity);
        Batch& batch = batches_[*slot];
        if (qty < batch.allocated_ && !batch.all_lines_loaded()) {  // before anything changes
            throw std::logic_error("the lines of batch " + batch.reference_ + " were not all loaded, cannot deallocate");
        }
        as_one_change([&] {
            const std::size_t first = changes_.size() + 1;  // after the QuantityChanged
            const std::size_t released = set_quantity(*slot, qty);
            for (std::size_t i = first; i < first + released; ++i) {
                reallocate(std::get<changes::LineDeallocated>(changes_[i]).line);
            }
            allocate_waiting();
        });
    }

    /// The reference of the batch holding `line`, if it is allocated (and loaded).
    const std::string* batch_of(const OrderLine& line) const {
        const detail::LineSlot* entry = index_.find(line);
        return entry == nullptr || entry->slot == waiting_slot || entry->qty != line.qty
                   ? nullptr
                   : &batches_[entry->slot].reference();
    }

    /// Events raised since the last commit, oldest first.
    std::span<const events::Event> events() const noexcept { return events_; }
    /// Changes since the product was loaded or last committed, oldest first.
    std::span<const changes::Change> changes() const noexcept { return changes_; }
    /// The version the product had when it was loaded or last committed.
    std::int64_t loaded_version() const noexcept { return loaded_version_; }
    bool changed() const noexcept { return !changes_.empty(); }

    /// Numbers the events this product raises from now on from `sequence`, which must outlive their commit. A unit
    /// of work calls it on every product it hands out, with its own sequence; until then a product numbers its
    /// events itself, which orders them among its own events only.
    void number_events_from(EventSequence& sequence) noexcept { sequence_.sequence = &sequence; }

    /// Accepts the changes as stored: hands the raised events over (appended to `out`) and starts a
    /// new change record from the current state. A commit of several products calls the free
    /// mark_committed(products, out) instead, which keeps their events in the order they were raised.
    void mark_committed(std::vector<events::Event>& out) {
        out.insert(out.end(), std::make_move_iterator(events_.begin()), std::make_move_iterator(events_.end()));
        events_.clear();
        event_numbers_.clear();
        changes_.clear();
        loaded_version_ = version_;
    }

    /// Undoes every change since the product was loaded or last committed, newest first, and drops the
    /// events raised meanwhile. Restores exactly the earlier state without any snapshot.
    void discard_changes() noexcept { rollback_to(Savepoint{}); }

    /// A point to come back to within the changes not committed yet: how many changes and events there were, and
    /// the version. The default one is the state the product was loaded or last committed in.
    struct Savepoint {
        std::size_t changes = 0;
        std::size_t events = 0;
        std::optional<std::int64_t> version;  // empty: the loaded one
    };
    Savepoint savepoint() const noexcept {
        // Without changes, the version is the loaded one, whatever a reload in place makes it later.
        return {changes_.size(), events_.size(), changes_.empty() ? std::nullopt : std::optional(version_)};
    }
    /// Undoes the changes made since `point`, newest first, and drops the events raised since. A point taken
    /// before the last commit (or a savepoint of another product) is not one to come back to.
    void rollback_to(const Savepoint& point) noexcept {
        undo_since(point.changes);
        events_.erase(events_.begin() + static_cast<std::ptrdiff_t>(point.events), events_.end());
        event_numbers_.resize(point.events);
        version_ = point.version.value_or(loaded_version_);
    }

private:
    friend void mark_committed(std::span<Product* const> products, std::vector<events::Event>& out);

    std::optional<std::uint32_t> find_slot(std::string_view reference) const noexcept {
        for (std::uint32_t slot = 0; slot < batches_.size(); ++slot) {
            if (batches_[slot].reference() == reference) return slot;
        }
        return std::nullopt;
    }

    // The first batch in allocation preference with `qty` available (the SKU was checked by the caller).
    std::uint32_t preferred_slot(Quantity qty) const noexcept {
        for (std::uint32_t slot : order_) {
            if (batches_[slot].available_quantity() >= qty) return slot;
        }
        return no_slot;
    }

    // The answer to a line of an order that already has one here: the same line stays where it is, in a batch or
    // waiting.
    std::optional<std::string> allocated_before(const detail::LineSlot& entry, const OrderLine& line) const {
        if (entry.qty != line.qty) throw DuplicateLine(line.orderid, line.sku, entry.qty);
        if (entry.slot == waiting_slot) return std::nullopt;
        return batches_[entry.slot].reference();
    }

    // Runs a change of several steps, each strongly exception-safe, as one: when a step throws, the steps before
    // it are undone, so that the product, its change record, its events and its version are as they were.
    template <typename Steps>
    void as_one_change(Steps&& steps) {
        const Savepoint before = savepoint();
        try {
            steps();
        } catch (...) {
            rollback_to(before);
            throw;
        }
    }

    // Undoes the changes after the first `count`, newest first, and forgets them.
    void undo_since(std::size_t count) noexcept {
        while (changes_.size() > count) {
            std::visit([this](auto& change) { undo(change); }, changes_.back());
            changes_.pop_back();
        }
    }

    void append_batch(Batch&& batch) {
        detail::reserve_more(batches_, 1);
        detail::reserve_more(order_, 1);
        detail::reserve_more(changes_, 1);
        auto slot = static_cast<std::uint32_t>(batches_.size());
        batches_.push_back(std::move(batch));
        insert_in_order(slot);
        changes_.emplace_back(changes::BatchAdded{slot});
        ++version_;
    }

    // Sets the quantity and deallocates the newest lines that no longer fit, raising Deallocated for each;
    // returns how many, whose LineDeallocated records follow the QuantityChanged one, newest line first.
    std::size_t set_quantity(std::uint32_t slot, Quantity qty) {
        Batch& batch = batches_[slot];
        const std::size_t released = batch.lines_over(qty);
        detail::reserve_more(changes_, 1 + released);
        raise_deallocations(batch, released);  // the last step that may throw
        changes_.emplace_back(changes::QuantityChanged{slot, batch.purchased_});
        batch.purchased_ = qty;
        ++version_;
        for (std::size_t i = 0; i < released; ++i) {
            OrderLine line = batch.pop_line();
            index_.erase(line);
            changes_.emplace_back(changes::LineDeallocated{slot, std::move(line)});
        }
        return released;
    }

    // A line just deallocated (a copy: the change record it comes from may move) goes to the preferred batch that
    // can take it, or else waits for stock.
    void reallocate(OrderLine line) {
        const std::uint32_t slot = preferred_slot(line.qty);
        if (slot == no_slot) {
            wait(std::move(line));
            return;
        }
        Batch& batch = batches_[slot];
        detail::reserve_more(batch.lines_, 1);
        detail::reserve_more(changes_, 1);
        reserve_events(1);
        changes::LineAllocated change{slot, line};
        events::Allocated allocated{line.orderid, line.sku, line.qty, batch.reference()};
        index_.try_emplace(line, detail::LineSlot{slot, line.qty});  // the last step that may throw
        add_allocation(slot, std::move(line), std::move(change), std::move(allocated));
    }

    // The end of an allocation, once everything it needs is made and reserved and the index holds the line.
    void add_allocation(std::uint32_t slot, OrderLine&& line, changes::LineAllocated&& change,
                        events::Allocated&& allocated) noexcept {
        batches_[slot].add_line(std::move(line));
        changes_.emplace_back(std::move(change));
        ++version_;
        raise_reserved(std::move(allocated));
    }

    // A deallocated line that no batch can take joins the waiting lines, raising OutOfStock.
    void wait(OrderLine&& line) {
        detail::reserve_more(waiting_, 1);
        detail::reserve_more(changes_, 1);
        reserve_events(1);
        changes::WaitingLineAdded change{line};
        events::OutOfStock out_of_stock{sku_};
        index_.try_emplace(line, detail::LineSlot{waiting_slot, line.qty});  // the last step that may throw
        waiting_.push_back(std::move(line));
        changes_.emplace_back(std::move(change));
        raise_reserved(std::move(out_of_stock));
    }

    // Allocates the waiting lines that a batch can take now, oldest first.
    void allocate_waiting() {
        for (std::size_t position = 0; position < waiting_.size();) {
            const std::uint32_t slot = preferred_slot(waiting_[position].qty);
            if (slot == no_slot) {
                ++position;
            } else {
                stop_waiting(position, slot);
            }
        }
    }

    void stop_waiting(std::size_t position, std::uint32_t slot) {
        Batch& batch = batches_[slot];
        const OrderLine& line = waiting_[position];
        detail::reserve_more(batch.lines_, 1);
        detail::reserve_more(changes_, 2);
        reserve_events(1);
        changes::WaitingLineRemoved removed{position, line};
        changes::LineAllocated change{slot, line};
        events::Allocated allocated{line.orderid, line.sku, line.qty, batch.reference()};  // the last that may throw
        index_.find(line)->slot = slot;
        OrderLine moved = std::move(waiting_[position]);
        waiting_.erase(waiting_.begin() + static_cast<std::ptrdiff_t>(position));
        changes_.emplace_back(std::move(removed));
        add_allocation(slot, std::move(moved), std::move(change), std::move(allocated));
    }

    // Warehouse stock (no eta) sorts before any shipment because an empty optional is the smallest;
    // equal etas keep the order in which batches were added. The caller reserved room in order_.
    void insert_in_order(std::uint32_t slot) noexcept {
        auto pos = std::upper_bound(order_.begin(), order_.end(), slot, [this](std::uint32_t a, std::uint32_t b) {
            return batches_[a].eta() < batches_[b].eta();
        });
        order_.insert(pos, slot);
    }

    void check_unique_references() const {
        if (batches_.size() < 2) return;
        std::vector<std::string_view> references;
        references.reserve(batches_.size());
        for (const Batch& batch : batches_) references.push_back(batch.reference());
        std::sort(references.begin(), references.end());
        auto twice = std::adjacent_find(references.begin(), references.end());
        if (twice != references.end()) {
            throw CorruptData("Stored product " + sku_ + " has two batches with the reference " + std::string(*twice));
        }
    }

    void index_waiting() {
        for (const OrderLine& line : waiting_) {
            const std::string of_order = "Stored product " + sku_ + " has a waiting line of order " + line.orderid;
            if (auto problem = id_problem(line.orderid)) throw CorruptData(of_order + " whose order id " + *problem);
            if (line.sku != sku_) throw CorruptData(of_order + " for another sku, " + line.sku);
            if (!quantity_in_range(line.qty)) {
                throw CorruptData(of_order + " whose qty " + quantity_range() + ": " + std::to_string(line.qty));
            }
            auto [entry, is_new] = index_.try_emplace(line, detail::LineSlot{waiting_slot, line.qty});
            if (!is_new) {
                throw CorruptData(of_order + " that is " + (entry->slot == waiting_slot
                                                                ? std::string("waiting twice")
                                                                : "also allocated in batch " +
                                                                      batches_[entry->slot].reference()));
            }
        }
    }

    void index_lines(std::uint32_t slot) {
        for (const OrderLine& line : batches_[slot].lines_) {
            auto [entry, is_new] = index_.try_emplace(line, detail::LineSlot{slot, line.qty});
            if (!is_new) {
                throw CorruptData("Stored product " + sku_ + " allocates order " + line.orderid + " in batch " +
                                  batches_[entry->slot].reference() + " and in batch " + batches_[slot].reference());
            }
        }
    }

    void reserve_events(std::size_t count) {
        detail::reserve_more(events_, count);
        detail::reserve_more(event_numbers_, count);
    }
    // Appends an event for which reserve_events made room.
    void raise_reserved(events::Event&& event) noexcept {
        events_.push_back(std::move(event));
        EventSequence& sequence = sequence_.sequence != nullptr ? *sequence_.sequence : own_sequence_;
        event_numbers_.push_back(sequence.next());
    }
    void raise(events::Event&& event) {
        reserve_events(1);
        raise_reserved(std::move(event));
    }

    // Raises Deallocated for the `count` newest lines of `batch`, newest first, before they are popped: all of
    // them, or none when making one throws.
    void raise_deallocations(const Batch& batch, std::size_t count) {
        reserve_events(count);
        const std::size_t before = events_.size();
        try {
            for (auto it = batch.lines_.rbegin(); it != batch.lines_.rbegin() + static_cast<std::ptrdiff_t>(count); ++it) {
                raise_reserved(events::Deallocated{it->orderid, it->sku, it->qty});
            }
        } catch (...) {
            events_.erase(events_.begin() + static_cast<std::ptrdiff_t>(before), events_.end());
            event_numbers_.resize(before);
            throw;
        }
    }

    void undo(changes::BatchAdded& c) noexcept {
        order_.erase(std::find(order_.begin(), order_.end(), c.slot));
        batches_.pop_back();
    }
    void undo(changes::LineAllocated& c) noexcept {
        index_.erase(c.line);
        batches_[c.slot].drop_last_line();
    }
    void undo(changes::LineDeallocated& c) noexcept {
        // The line was popped from the back, and everything after it is already undone, so the batch has room
        // for it and the index has a slot for it.
        index_.try_emplace(c.line, detail::LineSlot{c.slot, c.line.qty});
        batches_[c.slot].add_line(std::move(c.line));
    }
    void undo(changes::QuantityChanged& c) noexcept { batches_[c.slot].purchased_ = c.previous; }
    void undo(changes::WaitingLineAdded& c) noexcept {
        index_.erase(c.line);
        waiting_.pop_back();
    }
    void undo(changes::WaitingLineRemoved& c) noexcept {
        // The line left from `position`, and everything after it is already undone (its allocation too, which
        // took it out of the index), so the waiting lines have room for it and the index has a slot for it.
        index_.try_emplace(c.line, detail::LineSlot{waiting_slot, c.line.qty});
        waiting_.insert(waiting_.begin() + static_cast<std::ptrdiff_t>(c.position), std::move(c.line));
    }

    static constexpr std::uint32_t no_slot = UINT32_MAX;
    static constexpr std::uint32_t waiting_slot = UINT32_MAX - 1;  // in index_: the line is waiting

    std::string sku_;
    std::vector<Batch> batches_;                // slot = position of addition; never reordered
    std::vector<std::uint32_t> order_;          // slots in allocation preference
    std::vector<OrderLine> waiting_;            // waiting lines, oldest first
    detail::FlatMap<detail::LineKey, detail::LineSlot, detail::LineKeyHash, detail::LineKeyEqual> index_;  // line -> slot
    std::int64_t version_;
    std::int64_t loaded_version_;
    std::vector<events::Event> events_;
    std::vector<std::uint64_t> event_numbers_;  // each event's number in its sequence, in step with events_
    detail::SequenceLink sequence_;             // the unit of work's, else own_sequence_
    EventSequence own_sequence_;
    std::vector<changes::Change> changes_;
};

/// Accepts the changes of every product of one commit as stored (Product::mark_committed on each) and hands
/// their events over, appended to `out`, oldest first across all the products that number their events from one
/// EventSequence (the unit of work's): the order the UnitOfWork port promises, whichever order the products were
/// seen in.
inline void mark_committed(std::span<Product* const> products, std::vector<events::Event>& out) {
    struct Raised {
        std::uint64_t number;
        events::Event* event;
    };
    std::vector<Raised> raised;  // empty, and never allocated, unless events of two products need merging
    const auto raising = std::count_if(products.begin(), products.end(), [](Product* p) { return !p->events_.empty(); });
    if (raising > 1) {
        for (Product* product : products) {
            for (std::size_t i = 0; i < product->events_.size(); ++i) {
                raised.push_back({product->event_numbers_[i], &product->events_[i]});
            }
        }
        std::stable_sort(raised.begin(), raised.end(),
                         [](const Raised& a, const Raised& b) { return a.number < b.number; });
        out.reserve(out.size() + raised.size());
        for (const Raised& r : raised) out.push_back(std::move(*r.event));
        for (Product* product : products) product->events_.clear();
    }
    for (Product* product : products) product->mark_committed(out);
}

}  // namespace allocation
