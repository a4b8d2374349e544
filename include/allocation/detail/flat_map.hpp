// A small open-addressing hash map for the hot paths: one array of slots, no allocation per entry.
#pragma once

#include <cstddef>
#include <functional>
#include <type_traits>
#include <utility>
#include <vector>

namespace allocation::detail {

/// An unordered map that keeps its entries in one power-of-two array of slots, found by linear probing.
///
/// - Each slot stores the entry's hash next to its key and value, so a probe compares hashes before keys
///   and growing never hashes a key again.
/// - Erasing shifts the following entries of the probe chain back (no tombstones), so lookups never
///   slow down after many erasures.
/// - Key and Value must be default-constructible and movable: an empty slot holds default values.
/// - Lookups accept any type that Hash and KeyEqual accept (heterogeneous lookup, e.g. a string_view for
///   a std::string key, when both are transparent).
/// - Inserting or erasing moves entries: pointers to entries are valid only until the next change.
/// - A failed insertion (a throwing allocation or key conversion) leaves the entries as they were, given keys
///   and values that move without throwing.
template <typename Key, typename Value, typename Hash = std::hash<Key>, typename KeyEqual = std::equal_to<>>
class FlatMap {
    struct Slot {
        std::size_t hash = 0;  // 0: empty; a stored hash always has its lowest bit set
        Key key{};
        Value value{};
    };

public:
    FlatMap() = default;
    FlatMap(const FlatMap&) = default;
    FlatMap& operator=(const FlatMap&) = default;
    /// A moved-from map is a valid empty map: its size and shift go with its slots.
    FlatMap(FlatMap&& other) noexcept
        : slots_(std::move(other.slots_)), size_(std::exchange(other.size_, 0)), shift_(std::exchange(other.shift_, 0)),
          hash_(std::move(other.hash_)), equal_(std::move(other.equal_)) {
        other.slots_.clear();
    }
    FlatMap& operator=(FlatMap&& other) noexcept {
        if (this != &other) {
            slots_ = std::move(other.slots_);
            other.slots_.clear();
            size_ = std::exchange(other.size_, 0);
            shift_ = std::exchange(other.shift_, 0);
            hash_ = std::move(other.hash_);
            equal_ = std::move(other.equal_);
        }
        return *this;
    }
    ~FlatMap() = default;

    std::size_t size() const noexcept { return size_; }
    bool empty() const noexcept { return size_ == 0; }
    /// The number of slots (a power of two, or 0 before the first insertion).
    std::size_t capacity() const noexcept { return slots_.size(); }

    /// The value of `key`, or nullptr.
    template <typename K>
    Value* find(const K& key) noexcept {
        const std::size_t i = find_index(key);
        return i == npos ? nullptr : &slots_[i].value;
    }
    template <typename K>
    const Value* find(const K& key) const noexcept {
        const std::size_t i = find_index(key);
        return i == npos ? nullptr : &slots_[i].value;
    }
    template <typename K>
    bool contains(const K& key) const noexcept {
        return find_index(key) != npos;
    }

    /// Inserts `key` with a value made from `args` unless it is present; either way returns its value and
    /// whether it was inserted. One hash and one probe sequence for both questions.
    template <typename K, typename... Args>
    std::pair<Value*, bool> try_emplace(K&& key, Args&&... args) {
        if ((size_ + 1) * 4 > slots_.size() * 3) grow();  // max load 0.75
        const std::size_t hash = stored_hash(key);
        std::size_t i = home(hash);
        for (; slots_[i].hash != 0; i = next(i)) {
            if (slots_[i].hash == hash && equal_(slots_[i].key, key)) return {&slots_[i].value, false};
        }
        // An empty slot holds a default key and value: assign into them rather than build temporaries.
        Slot& slot = slots_[i];
        if constexpr (std::is_assignable_v<Key&, K&&>) {
            slot.key = std::forward<K>(key);
        } else {
            slot.key = Key(std::forward<K>(key));
        }
        if constexpr (sizeof...(Args) > 0) slot.value = Value(std::forward<Args>(args)...);
        slot.hash = hash;
        ++size_;
        return {&slot.value, true};
    }

    /// Erases `key` if present; returns how many entries were erased (0 or 1).
    template <typename K>
    std::size_t erase(const K& key) noexcept {
        const std::size_t i = find_index(key);
        if (i == npos) return 0;
        erase_index(i);
        return 1;
    }

    void clear() noexcept {
        for (Slot& slot : slots_) slot = Slot{};
        size_ = 0;
    }

    /// Calls f(key, value) for every entry, in no particular order.
    template <typename F>
    void for_each(F&& f) const {
        for (const Slot& slot : slots_) {
            if (slot.hash != 0) f(slot.key, slot.value);
        }
    }

private:
    static constexpr std::size_t npos = static_cast<std::size_t>(-1);
    static constexpr std::size_t min_capacity = 16;

    template <typename K>
    std::size_t stored_hash(const K& key) const noexcept {
        // Fibonacci hashing spreads the bits of weak hashes (std::hash<int> is the identity) to the high
        // bits that pick the home slot; the lowest bit marks the slot as full.
        return (static_cast<std::size_t>(hash_(key)) * 0x9e3779b97f4a7c15ULL) | 1U;
    }
    std::size_t home(std::size_t hash) const noexcept { return (hash >> shift_) & mask(); }
    std::size_t mask() const noexcept { return slots_.size() - 1; }
    std::size_t next(std::size_t i) const noexcept { return (i + 1) & mask(); }

    template <typename K>
    std::size_t find_index(const K& key) const noexcept {
        if (size_ == 0) return npos;
        const std::size_t hash = stored_hash(key);
        for (std::size_t i = home(hash); slots_[i].hash != 0; i = next(i)) {
            if (slots_[i].hash == hash && equal_(slots_[i].key, key)) return i;
        }
        return npos;
    }

    // Backward-shift deletion: every later entry of the chain that may live closer to its home moves
    // into the hole, so the chain stays unbroken and needs no tombstone.
    void erase_index(std::size_t hole) noexcept {
        for (std::size_t i = next(hole); slots_[i].hash != 0; i = next(i)) {
            const std::size_t h = home(slots_[i].hash);
            // The entry at i may move to the hole unless its home lies cyclically in (hole, i].
            const bool home_after_hole = ((i - h) & mask()) < ((i - hole) & mask());
            if (home_after_hole) continue;
            slots_[hole] = std::move(slots_[i]);
            hole = i;
        }
        slots_[hole] = Slot{};
        --size_;
    }

    void grow() {
        std::vector<Slot> old = std::exchange(slots_, std::vector<Slot>(old_capacity_doubled()));
        shift_ = shift_for(slots_.size());
        for (Slot& slot : old) {
            if (slot.hash == 0) continue;
            std::size_t i = home(slot.hash);
            while (slots_[i].hash != 0) i = next(i);
            slots_[i] = std::move(slot);
        }
    }
    std::size_t old_capacity_doubled() const noexcept { return slots_.empty() ? min_capacity : slots_.size() * 2; }
    static unsigned shift_for(std::size_t capacity) noexcept {
        unsigned bits = 0;
        while ((std::size_t{1} << bits) < capacity) ++bits;
        return static_cast<unsigned>(sizeof(std::size_t) * 8) - bits;
    }

    std::vector<Slot> slots_;
    std::size_t size_ = 0;
    unsigned shift_ = 0;
    [[no_unique_address]] Hash hash_{};
    [[no_unique_address]] KeyEqual equal_{};
};

}  // namespace allocation::detail
