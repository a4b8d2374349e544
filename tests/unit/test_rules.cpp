// One rule each for ids, quantities and dates, kept wherever a command makes a domain object.
#include <string>
#include <variant>

#include "catch.hpp"
#include "in_memory_system.hpp"

using namespace allocation;
using allocation::testing::InMemorySystem;
using std::chrono::day;
using std::chrono::month;
using std::chrono::year;

namespace {
Date date(int y, unsigned m, unsigned d) { return Date{year{y}, month{m}, day{d}}; }
}  // namespace

TEST_CASE("an eta that is not a real day of the years 1900 to 9999 is refused, naming it") {
    CHECK_THROWS_AS(Batch("b1", "LAMP", 5, date(2026, 2, 30)), InvalidDate);
    CHECK_THROWS_WITH(Batch("b1", "LAMP", 5, date(2026, 2, 30)), Catch::Contains("Invalid eta 2026-02-30"));
    CHECK_THROWS_WITH(Batch("b1", "LAMP", 5, date(1899, 12, 31)), Catch::Contains("1899-12-31"));
    CHECK_THROWS_WITH(Batch("b1", "LAMP", 5, date(10000, 1, 1)), Catch::Contains("10000-01-01"));
    CHECK_THROWS_AS(Batch("b1", "LAMP", 5, date(2026, 13, 1)), InvalidDate);
    CHECK_THROWS_AS(Batch("b1", "LAMP", 5, date(2026, 2, 29), {}, 0), CorruptData);
    CHECK_NOTHROW(Batch("b1", "LAMP", 5, date(2028, 2, 29)));
}

TEST_CASE("CreateBatch with an eta that is not a real day creates nothing") {
    InMemorySystem sys;
    CHECK_THROWS_AS(sys.bus.handle(commands::CreateBatch{"b1", "LAMP", 5, date(2026, 2, 30)}), InvalidDate);
    CHECK_THROWS_AS(sys.bus.handle(commands::CreateBatch{"b1", "LAMP", 5, date(-5, 1, 1)}), InvalidDate);
    CHECK_FALSE(sys.product("LAMP").has_value());
}

TEST_CASE("every eta the domain accepts formats and parses back to itself, and nothing else parses") {
    for (int y : {-1, 0, 1899, 1900, 1901, 2024, 2025, 2100, 9999, 10000, 32767}) {
        for (unsigned m = 0; m <= 13; ++m) {
            for (unsigned d = 0; d <= 32; ++d) {
                const Date eta = date(y, m, d);
                INFO(detail::date_text(eta));
                bool accepted = true;
                try {
                    Batch("b1", "LAMP", 5, eta);
                } catch (const InvalidDate&) {
                    accepted = false;
                }
                if (accepted) {
                    CHECK(parse_date(to_string(eta)) == eta);
                } else {
                    CHECK_FALSE(parse_date(detail::date_text(eta)).has_value());
                }
            }
        }
    }
}

TEST_CASE("ids are 1 to 255 bytes of UTF-8 without control characters") {
    CHECK_FALSE(id_problem("SOFA-ROUGE").has_value());
    CHECK_FALSE(id_problem("canapé").has_value());
    CHECK_FALSE(id_problem("\xe6\x97\xa5\xe6\x9c\xac").has_value());  // 日本
    CHECK_FALSE(id_problem("\xf0\x9f\x9b\x8b").has_value());          // U+1F6CB
    CHECK_FALSE(id_problem(std::string(255, 'a')).has_value());
    CHECK(id_problem("") == "must not be empty");
    CHECK(id_problem(std::string(256, 'a')) == "must be at most 255 bytes long");
    CHECK(id_problem("a\tb") == "must not contain control characters");
    CHECK(id_problem("a\xc2\x85" "b") == "must not contain control characters");  // U+0085, a C1 control
    for (const char* bad : {"\xff", "\xc3", "caf\xc3", "\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80",
                            "\x80", "\xf8\x88\x80\x80\x80"}) {
        INFO(bad);
        CHECK(id_problem(bad) == "must be valid UTF-8");
    }
}

TEST_CASE("the bus refuses ids that no adapter could store or publish") {
    InMemorySystem sys;
    sys.bus.handle(commands::CreateBatch{"b1", "LAMP", 10, std::nullopt});
    CHECK_THROWS_AS(sys.bus.handle(commands::CreateBatch{"\xff", "LAMP", 10, std::nullopt}), InvalidId);
    CHECK_THROWS_AS(sys.bus.handle(commands::CreateBatch{"b2", "", 10, std::nullopt}), InvalidId);
    CHECK_THROWS_AS(sys.bus.handle(commands::CreateBatch{std::string(256, 'r'), "LAMP", 10, std::nullopt}), InvalidId);
    CHECK_THROWS_WITH(sys.bus.handle(commands::Allocate{"caf\xc3", "LAMP", 1}), "order id must be valid UTF-8");
    CHECK_THROWS_WITH(sys.bus.handle(commands::Allocate{"", "LAMP", 1}), "order id must not be empty");
    CHECK_THROWS_AS(sys.bus.handle(commands::Allocate{std::string(300, 'o'), "LAMP", 1}), InvalidId);
    CHECK(sys.product("LAMP")->batches().size() == 1);
    CHECK(sys.product("LAMP")->batch("b1")->allocated_quantity() == 0);
    CHECK(sys.publisher.published().empty());
}

TEST_CASE("ChangeBatchQuantity to 0 cancels the batch and moves its lines elsewhere") {
    InMemorySystem sys;
    sys.bus.handle(commands::CreateBatch{"cancelled", "LAMP", 10, std::nullopt});
    sys.bus.handle(commands::CreateBatch{"shipment", "LAMP", 10, date(2027, 1, 1)});
    REQUIRE(sys.bus.handle(commands::Allocate{"o1", "LAMP", 4}) == "cancelled");
    REQUIRE(sys.bus.handle(commands::Allocate{"o2", "LAMP", 3}) == "cancelled");

    sys.bus.handle(commands::ChangeBatchQuantity{"cancelled", 0});

    auto lamp = sys.product("LAMP");
    CHECK(lamp->batch("cancelled")->purchased_quantity() == 0);
    CHECK(lamp->batch("cancelled")->allocated_quantity() == 0);
    CHECK(lamp->batch("shipment")->allocated_quantity() == 7);
    CHECK_THROWS_AS(sys.bus.handle(commands::ChangeBatchQuantity{"cancelled", -1}), InvalidQuantity);
    CHECK_THROWS_WITH(sys.bus.handle(commands::ChangeBatchQuantity{"cancelled", -1}),
                      "qty must be between 0 and 1000000000, got -1");
    CHECK_THROWS_AS(sys.bus.handle(commands::CreateBatch{"b3", "LAMP", 0, std::nullopt}), InvalidQuantity);
    CHECK_THROWS_AS(sys.bus.handle(commands::Allocate{"o3", "LAMP", 0}), InvalidQuantity);
}

TEST_CASE("one range rule for quantities, asked before a decoder narrows a number") {
    CHECK(quantity_in_range(1));
    CHECK_FALSE(quantity_in_range(0));
    CHECK(quantity_in_range(0, min_changed_quantity));
    CHECK_FALSE(quantity_in_range(-1, min_changed_quantity));
    CHECK(quantity_in_range(std::int64_t{max_quantity}));
    CHECK_FALSE(quantity_in_range(std::int64_t{max_quantity} + 1));
    CHECK_FALSE(quantity_in_range(std::uint64_t{18446744073709551615ULL}));
    CHECK_FALSE(quantity_in_range(std::int64_t{-4294967295LL}));
    CHECK(quantity_in_range(3.0));
    CHECK_FALSE(quantity_in_range(1e300));
    CHECK(quantity_range(min_changed_quantity) == "must be between 0 and 1000000000");
}
