// FlatMap, the open-addressing hash map of the hot paths, checked against std::unordered_map.
#include <cstddef>
#include <functional>
#include <random>
#include <string>
#include <string_view>
#include <unordered_map>

#include "allocation/detail/flat_map.hpp"
#include "allocation/detail/string_hash.hpp"
#include "catch.hpp"

using allocation::detail::FlatMap;
using allocation::detail::StringHash;

namespace {

// Every key lands on the same home slot, so every operation walks one long probe chain.
struct ConstantHash {
    std::size_t operator()(int) const noexcept { return 42; }
};

// Only four distinct hashes: long chains that interleave with each other.
struct FourHashes {
    std::size_t operator()(int key) const noexcept { return static_cast<std::size_t>(key % 4); }
};

template <typename Map>
void check_same(const Map& flat, const std::unordered_map<int, int>& reference) {
    REQUIRE(flat.size() == reference.size());
    for (const auto& [key, value] : reference) {
        const int* found = flat.find(key);
        REQUIRE(found != nullptr);
        REQUIRE(*found == value);
    }
    std::size_t visited = 0;
    flat.for_each([&](int key, int value) {
        ++visited;
        auto it = reference.find(key);
        REQUIRE(it != reference.end());
        REQUIRE(it->second == value);
    });
    REQUIRE(visited == reference.size());
}

// Random inserts, updates and erases over `key_range` keys, checked step by step against unordered_map.
template <typename Hash>
void random_operations(unsigned seed, int key_range, int steps) {
    std::mt19937 random(seed);
    std::uniform_int_distribution<int> key_of(0, key_range - 1);
    std::uniform_int_distribution<int> operation_of(0, 9);
    FlatMap<int, int, Hash> flat;
    std::unordered_map<int, int> reference;
    for (int step = 0; step < steps; ++step) {
        const int key = key_of(random);
        const int operation = operation_of(random);
        if (operation < 5) {
            auto [value, inserted] = flat.try_emplace(key, step);
            auto [it, reference_inserted] = reference.try_emplace(key, step);
            REQUIRE(inserted == reference_inserted);
            REQUIRE(*value == it->second);
        } else if (operation < 8) {
            REQUIRE(flat.erase(key) == reference.erase(key));
        } else {
            const int* found = flat.find(key);
            auto it = reference.find(key);
            REQUIRE((found != nullptr) == (it != reference.end()));
            if (found != nullptr) REQUIRE(*found == it->second);
        }
        if (step % 997 == 0) check_same(flat, reference);
    }
    check_same(flat, reference);
}

}  // namespace

TEST_CASE("flat map: an empty map finds nothing and erases nothing") {
    FlatMap<int, int> map;
    CHECK(map.empty());
    CHECK(map.find(1) == nullptr);
    CHECK_FALSE(map.contains(1));
    CHECK(map.erase(1) == 0);
}

TEST_CASE("flat map: try_emplace inserts once and then finds the first value") {
    // A key of several characters: assigning a one-character literal's string_view into a std::string makes g++ 12
    // at -O2 and above report a bogus -Wrestrict inside libstdc++ (GCC PR 105329), on a path never taken here.
    FlatMap<std::string, int, StringHash> map;
    auto [value, inserted] = map.try_emplace(std::string("lamp"), 1);
    CHECK(inserted);
    CHECK(*value == 1);
    auto [again, inserted_again] = map.try_emplace(std::string_view("lamp"), 2);
    CHECK_FALSE(inserted_again);
    CHECK(*again == 1);
    CHECK(map.size() == 1);
    CHECK(*map.find(std::string_view("lamp")) == 1);  // heterogeneous lookup
    *map.find(std::string_view("lamp")) = 3;
    CHECK(*map.find(std::string("lamp")) == 3);
    CHECK(map.erase(std::string_view("lamp")) == 1);
    CHECK(map.empty());
}

TEST_CASE("flat map: matches unordered_map on random operations") {
    for (unsigned seed : {1U, 2U, 3U}) {
        random_operations<std::hash<int>>(seed, 1000, 20000);
        random_operations<std::hash<int>>(seed, 100000, 50000);
    }
}

TEST_CASE("flat map: matches unordered_map when every key has the same hash") {
    random_operations<ConstantHash>(7, 300, 5000);
}

TEST_CASE("flat map: matches unordered_map when keys share a few hashes") {
    random_operations<FourHashes>(11, 500, 10000);
}

TEST_CASE("flat map: grows and keeps every entry") {
    FlatMap<std::string, std::string, StringHash> map;
    std::unordered_map<std::string, std::string> reference;
    std::size_t capacity = map.capacity();
    int growths = 0;
    for (int i = 0; i < 100000; ++i) {
        std::string key = "order-" + std::to_string(i);
        map.try_emplace(key, "batch-" + std::to_string(i % 10));
        reference.try_emplace(key, "batch-" + std::to_string(i % 10));
        if (map.capacity() != capacity) {
            ++growths;
            capacity = map.capacity();
            REQUIRE(map.size() * 4 <= capacity * 3);  // never above the maximum load
        }
    }
    CHECK(growths > 10);
    REQUIRE(map.size() == reference.size());
    for (const auto& [key, value] : reference) REQUIRE(*map.find(std::string_view(key)) == value);
}

TEST_CASE("flat map: erasing from the middle of a long probe chain keeps the rest findable") {
    FlatMap<int, int, ConstantHash> map;
    for (int key = 0; key < 40; ++key) map.try_emplace(key, key * 10);
    // Erase every third key, from the front, the middle and the back of the one chain.
    for (int key = 0; key < 40; key += 3) REQUIRE(map.erase(key) == 1);
    for (int key = 0; key < 40; ++key) {
        const int* found = map.find(key);
        if (key % 3 == 0) {
            REQUIRE(found == nullptr);
        } else {
            REQUIRE(found != nullptr);
            REQUIRE(*found == key * 10);
        }
    }
    // The holes are reused, and a re-inserted key is found again.
    for (int key = 0; key < 40; key += 3) REQUIRE(map.try_emplace(key, -key).second);
    CHECK(map.size() == 40);
    for (int key = 0; key < 40; key += 3) REQUIRE(*map.find(key) == -key);
}

TEST_CASE("flat map: a probe chain that wraps around the end of the slots survives erasure") {
    // With 16 slots, keys hashed to the last slot wrap to the first ones.
    struct LastSlot {
        std::size_t operator()(int) const noexcept { return ~std::size_t{0} / 0x9e3779b97f4a7c15ULL; }
    };
    FlatMap<int, int, LastSlot> map;
    for (int key = 0; key < 6; ++key) map.try_emplace(key, key);
    REQUIRE(map.erase(0) == 1);
    REQUIRE(map.erase(3) == 1);
    for (int key : {1, 2, 4, 5}) REQUIRE(*map.find(key) == key);
    CHECK(map.size() == 4);
}

TEST_CASE("flat map: clear empties the map and it can be filled again") {
    FlatMap<int, int> map;
    for (int key = 0; key < 100; ++key) map.try_emplace(key, key);
    map.clear();
    CHECK(map.empty());
    CHECK(map.find(5) == nullptr);
    map.try_emplace(5, 50);
    CHECK(*map.find(5) == 50);
}

TEST_CASE("a moved-from FlatMap is a valid empty map") {
    FlatMap<std::string, int, StringHash> map;
    for (int i = 0; i < 40; ++i) map.try_emplace(std::to_string(i), i);
    FlatMap<std::string, int, StringHash> moved(std::move(map));
    REQUIRE(map.size() == 0);  // NOLINT(bugprone-use-after-move): what a moved-from map is, is the point
    CHECK(map.empty());
    CHECK(map.find(std::string_view("7")) == nullptr);
    CHECK_FALSE(map.contains(std::string_view("7")));
    CHECK(map.erase(std::string_view("7")) == 0);
    CHECK(map.try_emplace(std::string("new"), 1).second);
    CHECK(*map.find(std::string_view("new")) == 1);
    map.clear();
    CHECK(map.empty());
    CHECK(moved.size() == 40);
    CHECK(*moved.find(std::string_view("39")) == 39);

    FlatMap<std::string, int, StringHash> assigned;
    assigned.try_emplace(std::string("old"), 0);
    assigned = std::move(moved);
    REQUIRE(moved.size() == 0);  // NOLINT(bugprone-use-after-move)
    CHECK(moved.find(std::string_view("39")) == nullptr);
    CHECK(moved.try_emplace(std::string("again"), 2).second);
    CHECK(assigned.size() == 40);
    CHECK(assigned.find(std::string_view("old")) == nullptr);
}
