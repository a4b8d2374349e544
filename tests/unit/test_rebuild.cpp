// Rebuilding a stored batch or product checks what every change of the domain keeps, and names what is broken.
#include <string>
#include <vector>

#include "catch.hpp"
#include "in_memory_system.hpp"

using namespace allocation;

namespace {
Batch stored(std::vector<OrderLine> lines, Quantity allocated, Quantity purchased = 10, std::string ref = "b1") {
    return Batch(std::move(ref), "LAMP", purchased, std::nullopt, std::move(lines), allocated);
}
}  // namespace

TEST_CASE("a stored batch that breaks a rule is refused, naming what is wrong") {
    CHECK_THROWS_WITH(stored({}, 11), "Stored batch b1 of LAMP allocates 11 of 10 purchased");
    CHECK_THROWS_AS(stored({}, -1), CorruptData);
    CHECK_THROWS_WITH(stored({}, 0, -3), Catch::Contains("purchased quantity that must be between 0 and"));
    CHECK_THROWS_WITH(stored({{"o1", "TABLE", 2}}, 2), Catch::Contains("line of order o1 for another sku, TABLE"));
    CHECK_THROWS_WITH(stored({{"o1", "LAMP", 0}}, 2), Catch::Contains("line of order o1 whose qty must be between 1"));
    CHECK_THROWS_WITH(stored({{"o1", "LAMP", 6}, {"o2", "LAMP", 6}}, 10),
                      Catch::Contains("lines of more than its allocated quantity 10"));
    CHECK_THROWS_WITH(stored({{"", "LAMP", 1}}, 1), Catch::Contains("order id must not be empty"));
    CHECK_THROWS_WITH(stored({}, 0, 10, "b\n1"), Catch::Contains("reference that must not contain control"));
    CHECK_THROWS_WITH(Batch("b1", "LAMP", 10, Date{std::chrono::year{2026} / 2 / 30}, {}, 0),
                      Catch::Contains("eta that is not a real day: 2026-02-30"));
    CHECK_THROWS_AS(stored({}, 11), StorageError);  // corrupt storage is a storage failure to the caller
}

TEST_CASE("a clean stored batch rebuilds, including a cancelled one and one loaded lazily") {
    CHECK_NOTHROW(stored({{"o1", "LAMP", 4}, {"o2", "LAMP", 6}}, 10));
    CHECK_NOTHROW(stored({}, 0, 0));
    CHECK(stored({{"o1", "LAMP", 4}}, 9).all_lines_loaded() == false);
}

TEST_CASE("a stored product with an order in two batches, or two batches of one reference, is refused") {
    CHECK_THROWS_WITH(Product("LAMP", {stored({{"o1", "LAMP", 2}}, 2, 10, "b1"), stored({{"o1", "LAMP", 2}}, 2, 10, "b2")}),
                      "Stored product LAMP allocates order o1 in batch b1 and in batch b2");
    CHECK_THROWS_AS(Product("LAMP", {stored({{"o1", "LAMP", 2}, {"o1", "LAMP", 3}}, 5)}), CorruptData);
    CHECK_THROWS_WITH(Product("LAMP", {stored({}, 0, 10, "b1"), stored({}, 0, 5, "b2"), stored({}, 0, 5, "b1")}),
                      "Stored product LAMP has two batches with the reference b1");
    CHECK_THROWS_AS(Product("LAMP", {Batch("b1", "TABLE", 5)}), InvalidSku);
    CHECK_THROWS_AS(Product("LA\x01MP"), InvalidId);
}
