// The SQLite adapter's per-connection product cache on its own: what it keeps, and what it lets go first.
#include <memory>
#include <string>

// Ids are built with fmt::format: g++ 12 at -O2 reports a bogus -Wrestrict on "o" + std::to_string(i)
// (GCC PR 105651), which -Werror turns into a failed optimised build.
#include <fmt/format.h>

#include "allocation/adapters/sqlite/product_cache.hpp"
#include "catch.hpp"

using namespace allocation;
using sqlite::detail::LoadedProduct;
using sqlite::detail::ProductCache;

namespace {

std::unique_ptr<LoadedProduct> stored(const std::string& sku, std::int64_t version = 1) {
    auto entry = std::make_unique<LoadedProduct>(Product(sku, {Batch("b-" + sku, sku, 1000)}, version));
    entry->batch_ids = {7};
    return entry;
}

}  // namespace

TEST_CASE("product cache: a kept product comes back once, as it was kept") {
    ProductCache cache;
    CHECK(cache.take("LAMP") == nullptr);
    cache.keep(stored("LAMP", 5));
    auto lamp = cache.take("LAMP");
    REQUIRE(lamp != nullptr);
    CHECK(lamp->product.version_number() == 5);
    CHECK(lamp->batch_ids == std::vector<std::int64_t>{7});
    CHECK(cache.take("LAMP") == nullptr);  // it is out until it is kept again
}

TEST_CASE("product cache: only products as stored are kept") {
    ProductCache cache;
    SECTION("not stored yet") {
        auto fresh = stored("LAMP");
        fresh->stored = false;
        cache.keep(std::move(fresh));
    }
    SECTION("with uncommitted changes") {
        auto changed = stored("LAMP");
        changed->product.allocate(OrderLine{"o1", "LAMP", 1});
        cache.keep(std::move(changed));
    }
    SECTION("with more lines loaded than it may hold") {
        std::vector<OrderLine> lines;
        for (std::size_t i = 0; i <= ProductCache::max_lines; ++i) lines.push_back({fmt::format("o{}", i), "LAMP", 1});
        const auto total = static_cast<Quantity>(lines.size());
        auto big = std::make_unique<LoadedProduct>(
            Product("LAMP", {Batch("b1", "LAMP", 1000, std::nullopt, std::move(lines), total)}, 3));
        cache.keep(std::move(big));
    }
    CHECK(cache.take("LAMP") == nullptr);
}

TEST_CASE("product cache: what one unit of work asked for is forgotten, its loaded lines are not") {
    ProductCache cache;
    auto lamp = stored("LAMP");
    lamp->product.allocate(OrderLine{"o1", "LAMP", 2});
    std::vector<events::Event> events;
    lamp->product.mark_committed(events);
    lamp->orders = {"o1"};
    lamp->full_batches = {"b-LAMP"};
    cache.keep(std::move(lamp));
    auto again = cache.take("LAMP");
    REQUIRE(again != nullptr);
    CHECK(again->orders.empty());
    CHECK(again->full_batches.empty());
    CHECK(again->product.batch_of(OrderLine{"o1", "LAMP", 2}) != nullptr);
}

TEST_CASE("product cache: when full, the least recently kept product goes first") {
    ProductCache cache;
    for (std::size_t i = 0; i < ProductCache::capacity; ++i) cache.keep(stored("SKU-" + std::to_string(i)));
    CHECK(cache.size() == ProductCache::capacity);
    cache.keep(cache.take("SKU-0"));  // used again: now the most recent
    cache.keep(stored("SKU-NEW"));
    CHECK(cache.size() == ProductCache::capacity);
    CHECK(cache.take("SKU-1") == nullptr);
    CHECK(cache.take("SKU-0") != nullptr);
    CHECK(cache.take("SKU-2") != nullptr);
    CHECK(cache.take("SKU-NEW") != nullptr);
}
