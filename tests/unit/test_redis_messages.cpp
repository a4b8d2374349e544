// The Redis transports of change_batch_quantity, without a Redis: the channel's JSON and the stream's fields reach the
// one decoder (serialisation/decoding.hpp), and both take one path to the bus, which applies a message id once.
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "allocation/adapters/redis/redis.hpp"
#include "allocation/adapters/redis/stream_consumer.hpp"
#include "catch.hpp"
#include "in_memory_system.hpp"

using namespace allocation;
using allocation::testing::InMemorySystem;

namespace {

const std::string stream = "allocation:change_batch_quantity";

redis::StreamEntry entry(std::vector<std::pair<std::string, std::string>> fields, std::string id = "1-0") {
    return redis::StreamEntry{std::move(id), std::move(fields)};
}

// What the decoder says about a message, or "" when it accepts it.
std::string decoder_says(const ChangeBatchQuantityMessage& message) {
    try {
        decode_change_batch_quantity(message);
        return "";
    } catch (const MalformedMessage& error) {
        return error.what();
    }
}

template <typename Parse>
std::string transport_says(Parse parse) {
    try {
        parse();
        return "";
    } catch (const MalformedMessage& error) {
        return error.what();
    }
}

std::string channel_says(std::string_view payload) {
    return transport_says([payload] { return redis::parse_change_batch_quantity(payload); });
}

std::string stream_says(const redis::StreamEntry& e) {
    return transport_says([&e] { return redis::parse_change_batch_quantity(e, stream); });
}

}  // namespace

TEST_CASE("the channel's JSON reaches the one decoder: its values, its refusals", "[redis][decoding]") {
    CHECK(redis::parse_change_batch_quantity(R"({"batchref": "b1", "qty": 5})") == commands::ChangeBatchQuantity{"b1", 5});
    CHECK(redis::parse_change_batch_quantity(R"({"batchref": "b1", "qty": 5.0})").qty == 5);
    CHECK_FALSE(redis::parse_change_batch_quantity(R"({"batchref": "b1", "qty": 0, "id": "m1"})").message_id);
    const std::pair<std::string_view, ChangeBatchQuantityMessage> cases[] = {
        {R"({"qty": 5})", {MissingField{}, std::int64_t{5}}},
        {R"({"batchref": "", "qty": 5})", {std::string_view(""), std::int64_t{5}}},
        {R"({"batchref": 7, "qty": 5})", {std::int64_t{7}, std::int64_t{5}}},
        {R"({"batchref": "b\u0001", "qty": 5})", {std::string_view("b\x01"), std::int64_t{5}}},
        {R"({"batchref": "b1"})", {std::string_view("b1"), MissingField{}}},
        {R"({"batchref": "b1", "qty": "five"})", {std::string_view("b1"), std::string_view("five")}},
        {R"({"batchref": "b1", "qty": null})", {std::string_view("b1"), OtherValue{"null"}}},
        {R"({"batchref": "b1", "qty": 1.5})", {std::string_view("b1"), 1.5}},
        {R"({"batchref": "b1", "qty": -1})", {std::string_view("b1"), std::int64_t{-1}}},
        {R"({"batchref": "b1", "qty": 18446744073709551615})", {std::string_view("b1"), std::uint64_t{18446744073709551615u}}},
    };
    for (const auto& [payload, raw] : cases) {
        INFO(payload);
        const std::string expected = decoder_says(raw);
        REQUIRE_FALSE(expected.empty());
        CHECK(channel_says(payload) == expected);
    }
    CHECK(channel_says(R"({"batchref": "b1", "qty": "five"})") == "Field 'qty' must be an integer, got string");
    CHECK(channel_says("this is not json") == "message is not valid JSON");
    CHECK(channel_says("[1, 2]") == "message must be a JSON object");
}

TEST_CASE("the stream's fields reach the one decoder: its values, its refusals, its message ids",
          "[redis][stream][decoding]") {
    CHECK(redis::parse_change_batch_quantity(entry({{"batchref", "b1"}, {"qty", "5"}}), stream) ==
          commands::ChangeBatchQuantity{"b1", 5, stream + ":1-0"});
    CHECK(redis::parse_change_batch_quantity(entry({{"id", "m1"}, {"batchref", "b1"}, {"qty", "0"}}), stream) ==
          commands::ChangeBatchQuantity{"b1", 0, "m1"});
    CHECK(redis::parse_change_batch_quantity(entry({{"id", ""}, {"batchref", "b1"}, {"qty", "5"}}), stream).message_id ==
          stream + ":1-0");
    const std::pair<redis::StreamEntry, ChangeBatchQuantityMessage> cases[] = {
        {entry({{"qty", "5"}}), {MissingField{}, DecimalText{"5"}}},
        {entry({{"batchref", ""}, {"qty", "5"}}), {std::string_view(""), DecimalText{"5"}}},
        {entry({{"batchref", "b\n1"}, {"qty", "5"}}), {std::string_view("b\n1"), DecimalText{"5"}}},
        {entry({{"batchref", "b1"}}), {std::string_view("b1"), MissingField{}}},
        {entry({{"batchref", "b1"}, {"qty", "five"}}), {std::string_view("b1"), DecimalText{"five"}}},
        {entry({{"batchref", "b1"}, {"qty", "-1"}}), {std::string_view("b1"), DecimalText{"-1"}}},
        {entry({{"batchref", "b1"}, {"qty", "99999999999999999999"}}),
         {std::string_view("b1"), DecimalText{"99999999999999999999"}}},
    };
    for (const auto& [e, raw] : cases) {
        const std::string expected = decoder_says(raw);
        INFO(expected);
        REQUIRE_FALSE(expected.empty());
        CHECK(stream_says(e) == expected);
    }
    CHECK(stream_says(entry({{"batchref", "b1"}, {"qty", "five"}})) == "Field 'qty' must be an integer, got 'five'");
}

TEST_CASE("one apply path: a refusal never reaches the handler, and failures are sorted by whether a retry can cure "
          "them", "[redis][apply]") {
    using Outcome = redis::Applied::Outcome;
    int handled = 0;
    auto failing_with = [&handled](std::function<void()> fail) -> redis::Handler {
        return [&handled, fail](const commands::ChangeBatchQuantity&) {
            ++handled;
            if (fail) fail();
        };
    };
    const auto good = [] { return redis::parse_change_batch_quantity(R"({"batchref": "b1", "qty": 5})"); };

    CHECK(redis::apply_change_batch_quantity(failing_with({}), good).outcome == Outcome::applied);
    CHECK(handled == 1);
    const auto malformed = redis::apply_change_batch_quantity(
        failing_with({}), [] { return redis::parse_change_batch_quantity(R"({"batchref": "b1"})"); });
    CHECK(malformed.outcome == Outcome::rejected);
    CHECK(malformed.reason == "Missing field 'qty'");
    CHECK(handled == 1);
    const auto unknown = redis::apply_change_batch_quantity(failing_with([] { throw UnknownBatch("b1"); }), good);
    CHECK(unknown.outcome == Outcome::rejected);
    CHECK(unknown.reason == "Unknown batch b1");
    CHECK(redis::apply_change_batch_quantity(failing_with([] { throw StorageError("locked"); }), good).outcome ==
          Outcome::failed);
    CHECK(redis::apply_change_batch_quantity(failing_with([] { throw ConcurrencyError("lost"); }), good).outcome ==
          Outcome::failed);
}

TEST_CASE("through the bus, a stream message id is applied once; a channel message, which has none, every time",
          "[redis][apply]") {
    InMemorySystem sys;
    sys.bus.handle(commands::CreateBatch{"b1", "LAMP", 10, std::nullopt});
    const redis::Handler to_bus = [&sys](const commands::ChangeBatchQuantity& cmd) { sys.bus.handle(cmd); };
    auto version = [&sys] { return sys.product("LAMP")->version_number(); };
    const int start = version();

    const redis::StreamEntry m1 = entry({{"id", "m1"}, {"batchref", "b1"}, {"qty", "6"}}, "1-0");
    const redis::StreamEntry m1_again = entry({{"id", "m1"}, {"batchref", "b1"}, {"qty", "6"}}, "2-0");
    for (const auto* e : {&m1, &m1_again, &m1}) {
        const auto applied =
            redis::apply_change_batch_quantity(to_bus, [e] { return redis::parse_change_batch_quantity(*e, stream); });
        CHECK(applied.outcome == redis::Applied::Outcome::applied);  // acknowledged
    }
    CHECK(version() == start + 1);

    for (int i = 0; i < 2; ++i) {
        redis::apply_change_batch_quantity(
            to_bus, [] { return redis::parse_change_batch_quantity(R"({"batchref": "b1", "qty": 7})"); });
    }
    CHECK(version() == start + 3);
    CHECK(sys.product("LAMP")->batch("b1")->purchased_quantity() == 7);
}
