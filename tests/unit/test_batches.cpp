// Batch rules, seen through the Product aggregate that owns every batch.
#include "catch.hpp"
#include "in_memory_system.hpp"

using namespace allocation;
using allocation::testing::later;
using allocation::testing::today;
using allocation::testing::tomorrow;

namespace {
Product product_with(Batch batch) {
    std::string sku = batch.sku();
    Product product(sku);
    product.add_batch(std::move(batch));
    return product;
}
}  // namespace

TEST_CASE("allocating to a batch reduces the available quantity") {
    Product product = product_with(Batch("batch-001", "SMALL-TABLE", 20, today()));
    product.allocate(OrderLine{"order-ref", "SMALL-TABLE", 2});
    CHECK(product.batch("batch-001")->available_quantity() == 18);
    CHECK(product.batch("batch-001")->allocated_quantity() == 2);
}

TEST_CASE("a batch can allocate if available is greater than or equal to required") {
    Batch batch("batch-001", "ELEGANT-LAMP", 20);
    CHECK(batch.can_allocate(OrderLine{"o", "ELEGANT-LAMP", 2}));
    CHECK(batch.can_allocate(OrderLine{"o", "ELEGANT-LAMP", 20}));
}

TEST_CASE("a batch cannot allocate if available is smaller than required") {
    Batch batch("batch-001", "ELEGANT-LAMP", 2);
    CHECK_FALSE(batch.can_allocate(OrderLine{"o", "ELEGANT-LAMP", 3}));
    Product product = product_with(Batch("batch-001", "ELEGANT-LAMP", 2));
    CHECK_FALSE(product.allocate(OrderLine{"o", "ELEGANT-LAMP", 3}).has_value());
    CHECK(product.batch("batch-001")->available_quantity() == 2);
}

TEST_CASE("a batch never allocates a line of another sku") {
    Batch batch("batch-001", "UNCOMFORTABLE-CHAIR", 100);
    CHECK_FALSE(batch.can_allocate(OrderLine{"o", "EXPENSIVE-TOASTER", 10}));
    Product product = product_with(Batch("batch-001", "UNCOMFORTABLE-CHAIR", 100));
    CHECK_THROWS_AS(product.allocate(OrderLine{"o", "EXPENSIVE-TOASTER", 10}), InvalidSku);
    CHECK(product.batch("batch-001")->available_quantity() == 100);
}

TEST_CASE("batches are entities: equal when their references are") {
    CHECK(Batch("b1", "LAMP", 1) == Batch("b1", "LAMP", 5, today()));
    CHECK_FALSE(Batch("b1", "LAMP", 1) == Batch("b2", "LAMP", 1));
}

TEST_CASE("order lines are values") {
    CHECK(OrderLine{"o1", "LAMP", 1} == OrderLine{"o1", "LAMP", 1});
    CHECK_FALSE(OrderLine{"o1", "LAMP", 1} == OrderLine{"o1", "LAMP", 2});
}

TEST_CASE("quantities must be positive and sane") {
    CHECK_THROWS_WITH(Batch("b1", "LAMP", 0), "qty must be between 1 and 1000000000, got 0");
    CHECK_THROWS_AS(Batch("b1", "LAMP", -5), InvalidQuantity);
    CHECK_THROWS_AS(Batch("b1", "LAMP", max_quantity + 1), InvalidQuantity);
    Product product = product_with(Batch("b1", "LAMP", 10));
    CHECK_THROWS_AS(product.allocate(OrderLine{"o", "LAMP", 0}), InvalidQuantity);
    CHECK_THROWS_AS(product.change_batch_quantity("b1", -1), InvalidQuantity);
    CHECK(product.version_number() == 1);
}

TEST_CASE("dates read and print as YYYY-MM-DD") {
    CHECK(to_string(today()) == "2026-11-21");
    CHECK(parse_date("2026-11-21") == today());
    CHECK_FALSE(parse_date("2026-02-30").has_value());
    CHECK_FALSE(parse_date("2026-1-21").has_value());
    CHECK_FALSE(parse_date("tomorrow").has_value());
    CHECK_FALSE(parse_date("2026-11-2x").has_value());
    CHECK_FALSE(parse_date("-123-01-01").has_value());
    CHECK_FALSE(parse_date("+026-01-01").has_value());
    CHECK_FALSE(parse_date("0000-01-01").has_value());
    CHECK_FALSE(parse_date("2026-+1-01").has_value());
    CHECK(parse_date("1900-01-01").has_value());
    CHECK(parse_date("9999-12-31").has_value());
    CHECK(tomorrow() < later());
}

TEST_CASE("ids are 1 to 255 bytes without control characters") {
    CHECK_FALSE(id_problem("order-1").has_value());
    CHECK_FALSE(id_problem("a/b ?#%").has_value());
    CHECK(id_problem("") == "must not be empty");
    CHECK(id_problem(std::string(max_id_length, 'x')) == std::nullopt);
    CHECK(id_problem(std::string(max_id_length + 1, 'x')) == "must be at most 255 bytes long");
    CHECK(id_problem(std::string("a\nb")) == "must not contain control characters");
    CHECK(id_problem(std::string("a\0b", 3)) == "must not contain control characters");
    CHECK(id_problem("a\x7f") == "must not contain control characters");
}

TEST_CASE("view changes apply in order, and overlay an order's stored rows") {
    ViewChanges changes;
    changes.add("o1", "LAMP", "b1");
    changes.add("o2", "DESK", "b7");
    changes.remove("o1", "LAMP");
    changes.add("o1", "LAMP", "b2");
    CHECK(changes.overlay("o1", {}) == std::vector<ports::AllocationRow>{{"LAMP", "b2"}});
    CHECK(changes.overlay("o3", {{"SOFA", "b9"}}) == std::vector<ports::AllocationRow>{{"SOFA", "b9"}});
    CHECK(changes.overlay("o2", {{"DESK", "b6"}, {"SOFA", "b9"}}) ==
          std::vector<ports::AllocationRow>{{"DESK", "b7"}, {"SOFA", "b9"}});
    memory::AllocationsView view;
    view.add("o1", "LAMP", "old");
    changes.apply_to(view);
    CHECK(view.allocations("o1") == std::vector<ports::AllocationRow>{{"LAMP", "b2"}});
    CHECK(view.allocations("o2") == std::vector<ports::AllocationRow>{{"DESK", "b7"}});
    changes.clear();
    CHECK(changes.empty());
}
