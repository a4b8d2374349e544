// Product's mutators are strongly exception-safe: whichever allocation fails, the product is left exactly as it was.
// A test executable of its own, because it replaces the global operator new to make the n-th allocation fail.
#include <cstddef>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

#include "catch.hpp"
#include "allocation/domain/model.hpp"

namespace {
long allocations_left = -1;  // -1: never fail; n: the n+1-th allocation from now throws std::bad_alloc
}  // namespace

void* operator new(std::size_t size) {
    if (allocations_left == 0) throw std::bad_alloc();
    if (allocations_left > 0) --allocations_left;
    if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
    throw std::bad_alloc();
}
// The whole family, so that every allocation and its release go through the same pair (a sanitizer checks it).
void* operator new[](std::size_t size) { return ::operator new(size); }
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
    try {
        return ::operator new(size);
    } catch (const std::bad_alloc&) {
        return nullptr;
    }
}
void* operator new[](std::size_t size, const std::nothrow_t& tag) noexcept { return ::operator new(size, tag); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }

using namespace allocation;

namespace {

// Everything about a product that a client or an adapter can see.
struct Seen {
    std::int64_t version;
    std::vector<std::vector<OrderLine>> lines;
    std::vector<Quantity> purchased, allocated;
    std::size_t events, changes;
    std::vector<bool> holds;  // batch_of(line) for every line the test uses
    std::vector<OrderLine> waiting;
    std::vector<bool> waits;  // is_waiting(line) for every line the test uses
    friend bool operator==(const Seen&, const Seen&) = default;
};

const std::vector<OrderLine> probes = {{"o1", "LAMP", 3}, {"o2", "LAMP", 3}, {"o3", "LAMP", 3}, {"a-long-order-id-beyond-sso", "LAMP", 3}};

Seen seen(const Product& product) {
    Seen s{product.version_number(), {}, {}, {}, product.events().size(), product.changes().size(), {}, {}, {}};
    for (const Batch& b : product.batches()) {
        s.lines.emplace_back(b.allocations().begin(), b.allocations().end());
        s.purchased.push_back(b.purchased_quantity());
        s.allocated.push_back(b.allocated_quantity());
    }
    for (const OrderLine& line : probes) s.holds.push_back(product.batch_of(line) != nullptr);
    s.waiting.assign(product.waiting().begin(), product.waiting().end());
    for (const OrderLine& line : probes) s.waits.push_back(product.is_waiting(line));
    return s;
}

Product lamp() {
    Product product("LAMP", {Batch("warehouse", "LAMP", 6), Batch("shipment", "LAMP", 20, std::chrono::year{2027} / 1 / 1)});
    product.allocate(probes[0]);
    product.allocate(probes[1]);
    std::vector<events::Event> sink;
    product.mark_committed(sink);
    return product;
}

// The warehouse alone, shrunk from 6 to 3: o2 waits for stock.
Product lamp_with_waiting() {
    Product product("LAMP", {Batch("warehouse", "LAMP", 6)});
    product.allocate(probes[0]);
    product.allocate(probes[1]);
    product.change_batch_quantity("warehouse", 3);
    std::vector<events::Event> sink;
    product.mark_committed(sink);
    return product;
}

// Runs `change` on fresh products with the 1st, 2nd, ... allocation failing until it runs through; after every
// failure the product must be unchanged, and discard_changes must bring back the committed state.
template <typename Change>
void check_strong(Change change, Product (*make)() = lamp) {
    for (long fail_at = 0;; ++fail_at) {
        Product product = make();
        const Seen before = seen(product);
        allocations_left = fail_at;
        try {
            change(product);
            allocations_left = -1;
            return;  // ran through: every allocation it makes has been made to fail once
        } catch (const std::bad_alloc&) {
            allocations_left = -1;
        }
        INFO("allocation " << fail_at << " failed");
        REQUIRE(seen(product) == before);
        product.discard_changes();
        REQUIRE(seen(product) == before);
    }
}

}  // namespace

TEST_CASE("a failed allocate leaves the product as it was") {
    check_strong([](Product& p) { p.allocate(probes[3]); });
    check_strong([](Product& p) { p.allocate(OrderLine{"o4", "LAMP", 100}); });  // out of stock
}

TEST_CASE("a failed change_batch_quantity leaves the product as it was") {
    check_strong([](Product& p) { p.change_batch_quantity("warehouse", 0); });
    check_strong([](Product& p) { p.change_batch_quantity("shipment", 1); });
}

TEST_CASE("a failed add_batch leaves the product as it was") {
    check_strong([](Product& p) { p.add_batch(Batch("another-batch-with-a-long-reference", "LAMP", 5)); });
}

TEST_CASE("a failed change that allocates again or leaves lines waiting leaves the product as it was") {
    check_strong([](Product& p) { p.change_batch_quantity("warehouse", 3); });  // o2 goes to the shipment
    check_strong([](Product& p) { p.change_batch_quantity("warehouse", 0); }, lamp_with_waiting);  // o1 waits too
}

TEST_CASE("a failed change that allocates waiting lines leaves the product as it was") {
    check_strong([](Product& p) { p.add_batch(Batch("another-batch-with-a-long-reference", "LAMP", 5)); },
                 lamp_with_waiting);
    check_strong([](Product& p) { p.change_batch_quantity("warehouse", 6); }, lamp_with_waiting);
}
