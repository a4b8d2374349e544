// The outbox port, on every adapter: rows are written with the change that raised them, and only then; they are
// numbered per product; claims, leases, failures and deliveries follow the port's rules.
#include <algorithm>
#include <chrono>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "adapters.hpp"
#include "allocation/allocation.hpp"
#include "catch.hpp"
#include "outbox_rows.hpp"

using namespace allocation;
using namespace std::chrono_literals;
using allocation::contract::Adapters;
using allocation::testing::commit_allocation;
using allocation::testing::ids_of;

namespace {

template <typename Adapter>
void add_product(Adapter& adapter, const std::string& sku, int qty) {
    auto uow = adapter.factory()();
    uow.products().add(Product(sku)).add_batch(Batch(sku + "-b1", sku, qty));
    uow.commit();
}

const ports::OutboxTime t0 = ports::OutboxTime(std::chrono::hours(24 * 365 * 60));  // a fixed moment for claims

// Now, to the microsecond an adapter may store, and not before any row committed so far.
ports::OutboxTime now_stored() { return std::chrono::ceil<std::chrono::microseconds>(ports::OutboxClock::now()); }

// A moment when every row committed so far is due: past its handoff to its committer.
ports::OutboxTime past_handoff() { return now_stored() + outbox_handoff; }

}  // namespace

TEMPLATE_LIST_TEST_CASE("outbox: the adapter's outbox models the port", "[contract][outbox]", Adapters) {
    TestType adapter;
    STATIC_REQUIRE(ports::Outbox<std::remove_cvref_t<decltype(adapter.outbox())>>);
}

TEMPLATE_LIST_TEST_CASE("outbox: a commit stores a row for each event that leaves the process", "[contract][outbox]",
                        Adapters) {
    TestType adapter;
    add_product(adapter, "LAMP", 10);  // raises nothing: no row
    CHECK(adapter.outbox().undelivered(10).empty());
    const auto before = ports::OutboxClock::now();
    {
        auto uow = adapter.factory()();
        Product* lamp = uow.products().get_for_order("LAMP", "o1");
        lamp->allocate(OrderLine{"o1", "LAMP", 4});
        lamp->allocate(OrderLine{"o2", "LAMP", 40});  // out of stock
        uow.commit();
    }
    const auto after = ports::OutboxClock::now();
    const auto rows = adapter.outbox().undelivered(10);
    REQUIRE(rows.size() == 2);
    CHECK(rows[0].id == outbox_id("LAMP", 2, 0));
    CHECK(rows[0].sku == "LAMP");
    CHECK(rows[0].version == 2);
    CHECK(rows[0].position == 0);
    CHECK(rows[0].event == events::Event{events::Allocated{"o1", "LAMP", 4, "LAMP-b1"}});
    CHECK(rows[0].attempts == 0);
    CHECK(rows[0].created_at >= before - 1us);  // stored to the microsecond
    CHECK(rows[0].created_at <= after);
    CHECK(rows[0].next_attempt_at == rows[0].created_at + outbox_handoff);  // its committer delivers it first
    CHECK(rows[1].id == outbox_id("LAMP", 2, 1));
    CHECK(rows[1].event == events::Event{events::OutOfStock{"LAMP"}});
    CHECK(adapter.outbox().backlog() == ports::OutboxBacklog{2, rows[0].created_at});
    {
        auto uow = adapter.factory()();
        uow.products().get_by_batchref("LAMP-b1")->change_batch_quantity("LAMP-b1", 0);  // Deallocated stays inside
        uow.commit();
    }
    // o1 found no other batch: it waits for stock, and its OutOfStock leaves the process.
    const auto after_cancel = adapter.outbox().undelivered(10);
    REQUIRE(after_cancel.size() == 3);
    CHECK(after_cancel[2].event == events::Event{events::OutOfStock{"LAMP"}});
}

TEMPLATE_LIST_TEST_CASE("outbox: a unit of work hands over the rows its commits stored, once, and none of rolled-back "
                        "work", "[contract][outbox]", Adapters) {
    TestType adapter;
    add_product(adapter, "LAMP", 10);
    auto uow = adapter.factory()();
    Product* lamp = uow.products().get_for_order("LAMP", "o1");
    lamp->allocate(OrderLine{"o1", "LAMP", 4});
    uow.commit();
    lamp = uow.products().get_for_order("LAMP", "o2");
    lamp->allocate(OrderLine{"o2", "LAMP", 40});  // out of stock, committed by the same unit of work
    uow.commit();
    lamp = uow.products().get_for_order("LAMP", "o3");
    lamp->allocate(OrderLine{"o3", "LAMP", 1});
    uow.rollback();
    const auto handed = uow.collect_outbox();
    CHECK(handed == adapter.outbox().undelivered(10));
    REQUIRE(handed.size() == 2);
    CHECK(handed[1].event == events::Event{events::OutOfStock{"LAMP"}});
    CHECK(uow.collect_outbox().empty());  // once
}

TEMPLATE_LIST_TEST_CASE("outbox: rows marked delivered are never handed out again, also before the mark is written",
                        "[contract][outbox]", Adapters) {
    TestType adapter;
    add_product(adapter, "LAMP", 10);
    for (const char* order : {"o1", "o2", "o3"}) CHECK(commit_allocation(adapter.factory(), order, "LAMP", 1));
    auto& outbox = adapter.outbox();
    const auto rows = outbox.undelivered(10);
    REQUIRE(rows.size() == 3);
    const std::vector<std::string> marked{rows[0].id, rows[2].id, "not an outbox id", outbox_id("DESK", 1, 0)};
    outbox.mark_delivered(marked, now_stored());
    CHECK(ids_of(outbox.undelivered(10)) == std::vector<std::string>{rows[1].id});
    CHECK(outbox.backlog() == ports::OutboxBacklog{1, rows[1].created_at});
    const auto now = past_handoff();
    CHECK(ids_of(outbox.claim("relay", now, now + 30s, 10)) == std::vector<std::string>{rows[1].id});
    outbox.mark_delivered(std::vector<std::string>{rows[0].id, rows[1].id}, now);  // the first again: no harm
    outbox.flush();
    CHECK(outbox.undelivered(10).empty());
    CHECK(outbox.backlog() == ports::OutboxBacklog{});
    outbox.mark_delivered({}, now);
    outbox.flush();
    CHECK(outbox.claim("relay", now + 1h, now + 2h, 10).empty());
}

TEMPLATE_LIST_TEST_CASE("outbox: a failure of a row nobody leases (its committer's delivery) is recorded",
                        "[contract][outbox]", Adapters) {
    TestType adapter;
    add_product(adapter, "LAMP", 10);
    CHECK(commit_allocation(adapter.factory(), "o1", "LAMP", 1));
    auto& outbox = adapter.outbox();
    const auto row = outbox.undelivered(1).at(0);
    const auto retry_at = now_stored() + 100ms;
    CHECK(outbox.record_failure(row.id, "relay-a", retry_at, "broker away"));
    const auto kept = outbox.undelivered(1).at(0);
    CHECK(kept.attempts == 1);
    CHECK(kept.next_attempt_at == retry_at);  // due after the backoff, not the handoff
    CHECK(ids_of(outbox.claim("relay-b", retry_at, retry_at + 30s, 10)) == std::vector<std::string>{row.id});
    CHECK_FALSE(outbox.record_failure(row.id, "relay-a", retry_at, "leased to relay-b now"));
}

TEMPLATE_LIST_TEST_CASE("outbox: work that is rolled back leaves no row", "[contract][outbox]", Adapters) {
    TestType adapter;
    add_product(adapter, "LAMP", 10);
    {
        auto uow = adapter.factory()();
        uow.products().get_for_order("LAMP", "o1")->allocate(OrderLine{"o1", "LAMP", 4});
    }  // left without commit
    {
        auto uow = adapter.factory()();
        uow.products().get_for_order("LAMP", "o2")->allocate(OrderLine{"o2", "LAMP", 40});
        uow.rollback();
        uow.commit();  // nothing left to store
    }
    CHECK(adapter.outbox().undelivered(10).empty());
    CHECK(adapter.outbox().backlog() == ports::OutboxBacklog{});
    CHECK(commit_allocation(adapter.factory(), "o3", "LAMP", 1));
    CHECK(ids_of(adapter.outbox().undelivered(10)) == std::vector<std::string>{outbox_id("LAMP", 2, 0)});
}

TEMPLATE_LIST_TEST_CASE("outbox: rows come oldest first, numbered per product, with unique ids", "[contract][outbox]",
                        Adapters) {
    TestType adapter;
    add_product(adapter, "LAMP", 3);
    add_product(adapter, "SOFA", 3);
    CHECK(commit_allocation(adapter.factory(), "o1", "LAMP", 2));     // LAMP v2
    CHECK_FALSE(commit_allocation(adapter.factory(), "o2", "LAMP", 2));  // out of stock: LAMP stays at v2
    CHECK(commit_allocation(adapter.factory(), "o1", "SOFA", 1));     // SOFA v2
    CHECK_FALSE(commit_allocation(adapter.factory(), "o3", "LAMP", 5));  // out of stock again, still v2
    CHECK(commit_allocation(adapter.factory(), "o4", "LAMP", 1));     // LAMP v3
    {
        auto uow = adapter.factory()();  // two products in one commit
        uow.products().get_for_order("SOFA", "o5")->allocate(OrderLine{"o5", "SOFA", 9});
        uow.products().get_for_order("LAMP", "o5")->allocate(OrderLine{"o5", "LAMP", 9});
        uow.commit();
    }
    const auto rows = adapter.outbox().undelivered(100);
    const std::vector<std::string> expected = {
        outbox_id("LAMP", 2, 0), outbox_id("LAMP", 2, 1), outbox_id("SOFA", 2, 0), outbox_id("LAMP", 2, 2),
        outbox_id("LAMP", 3, 0), outbox_id("SOFA", 2, 1), outbox_id("LAMP", 3, 1)};
    CHECK(ids_of(rows) == expected);
    CHECK(std::set<std::string>(expected.begin(), expected.end()).size() == expected.size());
    std::vector<std::string> lamp;
    for (const auto& row : rows) {
        if (row.sku == "LAMP") lamp.push_back(row.id);
    }
    CHECK(std::is_sorted(lamp.begin(), lamp.end()));  // the ids of one product sort in commit order
    CHECK(ids_of(adapter.outbox().undelivered(2)) == std::vector<std::string>(expected.begin(), expected.begin() + 2));
}

TEMPLATE_LIST_TEST_CASE("outbox: a claimed row is leased to one owner until it expires", "[contract][outbox]",
                        Adapters) {
    TestType adapter;
    add_product(adapter, "LAMP", 10);
    for (int i = 0; i < 3; ++i) CHECK(commit_allocation(adapter.factory(), "o" + std::to_string(i), "LAMP", 1));
    auto& outbox = adapter.outbox();
    const auto now = past_handoff();
    const auto a = outbox.claim("relay-a", now, now + 10s, 2);
    CHECK(ids_of(a) == std::vector<std::string>{outbox_id("LAMP", 2, 0), outbox_id("LAMP", 3, 0)});
    const auto b = outbox.claim("relay-b", now, now + 10s, 10);
    CHECK(ids_of(b) == std::vector<std::string>{outbox_id("LAMP", 4, 0)});
    CHECK(outbox.claim("relay-b", now + 9s, now + 19s, 10).empty());
    CHECK(outbox.undelivered(10).size() == 3);  // claimed rows are still undelivered
    // Expired: another owner may take the rows, and the first owner's late failure changes nothing.
    CHECK(ids_of(outbox.claim("relay-b", now + 10s, now + 20s, 1)) == std::vector<std::string>{a[0].id});
    CHECK_FALSE(outbox.record_failure(a[0].id, "relay-a", now + 1h, "too late"));
    CHECK(outbox.undelivered(1).front().attempts == 0);
    outbox.release(a[1].id, "relay-b");  // not b's: nothing happens
    CHECK(outbox.claim("relay-c", now + 9s, now + 19s, 10).empty());
    outbox.release(a[1].id, "relay-a");
    CHECK(ids_of(outbox.claim("relay-c", now + 9s, now + 19s, 10)) == std::vector<std::string>{a[1].id});
}

TEMPLATE_LIST_TEST_CASE("outbox: a failure makes the row due again later; a delivery ends it", "[contract][outbox]",
                        Adapters) {
    TestType adapter;
    add_product(adapter, "LAMP", 10);
    CHECK(commit_allocation(adapter.factory(), "o1", "LAMP", 1));
    CHECK(commit_allocation(adapter.factory(), "o2", "LAMP", 1));
    auto& outbox = adapter.outbox();
    const auto now = past_handoff();
    const auto claimed = outbox.claim("relay-a", now, now + 30s, 10);
    REQUIRE(claimed.size() == 2);
    CHECK(outbox.record_failure(claimed[0].id, "relay-a", now + 5s, "broker away"));
    outbox.mark_delivered(std::vector<std::string>{claimed[1].id}, now);
    outbox.flush();
    CHECK_FALSE(outbox.record_failure(claimed[1].id, "relay-a", now, "delivered already"));
    CHECK_FALSE(outbox.record_failure("not an outbox id", "relay-a", now, "no such row"));
    CHECK(outbox.backlog() == ports::OutboxBacklog{1, claimed[0].created_at});
    CHECK(outbox.claim("relay-b", now + 4s, now + 34s, 10).empty());  // not due yet, though no longer leased
    const auto again = outbox.claim("relay-b", now + 5s, now + 35s, 10);
    REQUIRE(again.size() == 1);
    CHECK(again[0].id == claimed[0].id);
    CHECK(again[0].attempts == 1);
    CHECK(again[0].last_error == "broker away");
    CHECK(again[0].next_attempt_at == now + 5s);
    CHECK(again[0].event == claimed[0].event);
    outbox.mark_delivered(std::vector<std::string>{again[0].id}, now + 6s);
    CHECK(outbox.undelivered(10).empty());
    CHECK(outbox.backlog() == ports::OutboxBacklog{});
    CHECK(outbox.claim("relay-b", now + 1h, now + 2h, 10).empty());
}

TEMPLATE_LIST_TEST_CASE("outbox: numbering goes on after delivered rows", "[contract][outbox]", Adapters) {
    TestType adapter;
    add_product(adapter, "LAMP", 1);
    CHECK(commit_allocation(adapter.factory(), "o1", "LAMP", 1));
    CHECK_FALSE(commit_allocation(adapter.factory(), "o2", "LAMP", 1));  // LAMP v2, position 1
    auto& outbox = adapter.outbox();
    outbox.mark_delivered(ids_of(outbox.claim("relay", t0, t0 + 1s, 10)), t0);
    CHECK_FALSE(commit_allocation(adapter.factory(), "o3", "LAMP", 1));  // still v2: the next position, not a used id
    CHECK(ids_of(outbox.undelivered(10)) == std::vector<std::string>{outbox_id("LAMP", 2, 2)});
}

TEMPLATE_LIST_TEST_CASE("outbox: a purge deletes only delivered rows, and ids stay unique and ordered after it",
                        "[contract][outbox]", Adapters) {
    TestType adapter;
    add_product(adapter, "LAMP", 10);
    add_product(adapter, "RUG", 1);
    auto& outbox = adapter.outbox();
    CHECK(commit_allocation(adapter.factory(), "o1", "LAMP", 1));  // LAMP v2
    CHECK(commit_allocation(adapter.factory(), "o2", "LAMP", 1));  // LAMP v3
    CHECK(commit_allocation(adapter.factory(), "o3", "RUG", 1));   // RUG v2
    CHECK(commit_allocation(adapter.factory(), "o4", "LAMP", 1));  // LAMP v4
    std::set<std::string> ids;
    for (const auto& row : outbox.undelivered(10)) ids.insert(row.id);
    REQUIRE(ids.size() == 4);
    const auto delivered_at = now_stored();
    outbox.mark_delivered(ids_of(outbox.claim("relay", t0, t0 + 1s, 3)), delivered_at);
    const auto waiting = outbox.undelivered(10);
    REQUIRE(ids_of(waiting) == std::vector<std::string>{outbox_id("LAMP", 4, 0)});

    CHECK(outbox.purge_delivered(delivered_at) == 0);  // delivered at that moment, not before it
    const std::size_t purged = outbox.purge_delivered(delivered_at + 1h);
    CHECK(purged <= 2);  // LAMP v2 and v3 at most: RUG's only row is its newest, and LAMP v4 is undelivered
    CHECK(outbox.undelivered(10) == waiting);
    CHECK(outbox.backlog().undelivered == 1);
    CHECK(ids_of(outbox.claim("relay", t0 + 2s, t0 + 3s, 10)) == ids_of(waiting));  // delivered rows never come back

    // RUG's next rows, one at its stored version (an OutOfStock changes nothing), one at a new version, follow the
    // purged ones instead of taking their ids again; so do LAMP's.
    CHECK_FALSE(commit_allocation(adapter.factory(), "o5", "RUG", 5));
    CHECK(commit_allocation(adapter.factory(), "o6", "LAMP", 1));
    const auto fresh = outbox.undelivered(10);
    REQUIRE(ids_of(fresh) == std::vector<std::string>{outbox_id("LAMP", 4, 0), outbox_id("RUG", 2, 1),
                                                      outbox_id("LAMP", 5, 0)});
    for (const auto& row : fresh) ids.insert(row.id);
    CHECK(ids.size() == 6);
}

namespace {
struct OutboxWithMutableListing {
    std::vector<ports::OutboxMessage> undelivered(std::size_t);
    std::vector<ports::OutboxMessage> claim(std::string_view, ports::OutboxTime, ports::OutboxTime, std::size_t);
    void mark_delivered(std::span<const std::string>, ports::OutboxTime);
    void flush();
    bool record_failure(std::string_view, std::string_view, ports::OutboxTime, std::string_view);
    void release(std::string_view, std::string_view);
    ports::OutboxBacklog backlog() const;
    std::size_t purge_delivered(ports::OutboxTime);
};
}  // namespace

// (An outbox without release: see diagnose_broken.cpp, which also checks the sentence naming it.)
TEST_CASE("outbox: a type that misses a requirement does not model the port", "[contract][outbox]") {
    STATIC_REQUIRE_FALSE(ports::Outbox<OutboxWithMutableListing>);
}

TEST_CASE("outbox: ids are made of the SKU, the version and the position, and read back", "[contract][outbox]") {
    CHECK(outbox_id("LAMP", 7, 2) == "LAMP:0000000000000000007:000000002");
    CHECK(parse_outbox_id(outbox_id("A:1:2", 3, 4)) == OutboxKey{"A:1:2", 3, 4});
    CHECK(parse_outbox_id(outbox_id("X", INT64_MAX, 999'999'999)) == OutboxKey{"X", INT64_MAX, 999'999'999});
    CHECK_FALSE(parse_outbox_id("LAMP:7:2").has_value());
    CHECK_FALSE(parse_outbox_id(":0000000000000000007:000000002").has_value());  // no SKU
    CHECK_FALSE(parse_outbox_id("LAMP:000000000000000000x:000000002").has_value());
    CHECK(outbox_id("LAMP", 9, 0) < outbox_id("LAMP", 10, 0));
    CHECK(leaves_the_process(events::Allocated{"o1", "LAMP", 1, "b1"}));
    CHECK(leaves_the_process(events::OutOfStock{"LAMP"}));
    CHECK_FALSE(leaves_the_process(events::Deallocated{"o1", "LAMP", 1}));
}

TEST_CASE("outbox: payloads are the book's JSON, escaped") {
    CHECK(to_json(events::Allocated{"o\"1\\", "LAMP", 3, "b\t1"}) ==
          R"({"orderid":"o\"1\\","sku":"LAMP","qty":3,"batchref":"b\t1"})");
    CHECK(to_json(events::Deallocated{"o1", "SOFÁ", 2}) == R"({"orderid":"o1","sku":"SOFÁ","qty":2})");
    CHECK(to_json(events::OutOfStock{std::string("a\x01z")}) == R"({"sku":"a\u0001z"})");
}

TEST_CASE("outbox: a stored payload reads back as its event; a damaged one is an error naming what is wrong") {
    const events::Event allocated = events::Allocated{"o\"1\\", "LAMP", 3, "b\t1"};
    CHECK(event_from_json("Allocated", to_json(allocated)) == allocated);
    CHECK(event_from_json("OutOfStock", R"( { "sku" : "a\u0001z" } )") == events::Event{events::OutOfStock{"a\x01z"}});
    CHECK(event_from_json("Deallocated", to_json(events::Deallocated{"o1", "SOFÁ", 2})) ==
          events::Event{events::Deallocated{"o1", "SOFÁ", 2}});
    CHECK_THROWS_WITH(event_from_json("Shipped", R"({"sku":"LAMP"})"), "unknown event type 'Shipped'");
    CHECK_THROWS_WITH(event_from_json("OutOfStock", R"({"sku":"LAMP")"), Catch::Contains("malformed event JSON"));
    CHECK_THROWS_WITH(event_from_json("OutOfStock", R"({"sku":7})"), "event JSON without a string member 'sku'");
    CHECK_THROWS_WITH(event_from_json("Allocated", R"({"orderid":"o1","sku":"L","qty":99999999999,"batchref":"b"})"),
                      "event JSON with a qty out of range");
    CHECK_THROWS_AS(event_from_json("OutOfStock", "{\"sku\":\"\\"), Error);  // an escape cut short
    CHECK_THROWS_AS(event_from_json("OutOfStock", ""), Error);
}
