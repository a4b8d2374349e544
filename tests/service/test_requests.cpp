// Request decoding (allocation/adapters/http/requests.hpp): JSON bodies to commands, and every failure a BadRequest that
// names the field.
#include <limits>
#include <random>
#include <string>
#include <string_view>
#include <utility>

#include "allocation/serialisation/decoding.hpp"
#include "allocation/domain/rules.hpp"
#include "catch.hpp"
#include "allocation/adapters/http/requests.hpp"

using namespace allocation;
using namespace allocation::http;
using nlohmann::json;

namespace {

Date ymd(int y, unsigned m, unsigned d) { return Date{std::chrono::year{y}, std::chrono::month{m}, std::chrono::day{d}}; }

std::string batch_with_eta(const std::string& eta) {
    return R"({"ref": "b1", "sku": "CHAIR", "qty": 10, "eta": )" + eta + "}";
}

std::string allocate_with_qty(const std::string& qty) {
    return R"({"orderid": "o1", "sku": "CHAIR", "qty": )" + qty + "}";
}

// The message of the BadRequest that decoding `body` as each kind of command throws, or "" when one accepts it.
std::string rejection(const std::string& body) {
    try {
        auto parsed = parse_body(body);
        parse_allocate(parsed);
        return "";
    } catch (const BadRequest& e) {
        CHECK(e.status() == 400);
        return e.what();
    }
}

std::string batch_rejection(const std::string& body) {
    try {
        parse_create_batch(parse_body(body));
        return "";
    } catch (const BadRequest& e) {
        CHECK(e.status() == 400);
        return e.what();
    }
}

}  // namespace

TEST_CASE("a plain date is an eta", "[requests][eta]") {
    CHECK(parse_eta("2030-01-01") == ymd(2030, 1, 1));
    CHECK(parse_create_batch(parse_body(batch_with_eta(R"("2026-11-21")"))).eta == ymd(2026, 11, 21));
    CHECK_FALSE(parse_create_batch(parse_body(batch_with_eta("null"))).eta.has_value());
    CHECK_FALSE(parse_create_batch(parse_body(R"({"ref": "b1", "sku": "CHAIR", "qty": 10})")).eta.has_value());
}

TEST_CASE("an ISO 8601 date-time keeps its date, as datetime.fromisoformat(eta).date() does", "[requests][eta]") {
    const char* forms[] = {
        "2030-01-01T00:00:00",       "2030-01-01 00:00:00",     "2030-01-01T23:59:59",
        "2030-01-01T12",             "2030-01-01T12:30",        "2030-01-01 12:30",
        "2030-01-01T12:30:45.5",     "2030-01-01T12:30:45.123456", "2030-01-01T12:30:45,5",
        "2030-01-01T12:30:45.123456789",
        "2030-01-01T00:00:00Z",      "2030-01-01T00:00:00+02:00", "2030-01-01T00:00:00-0530",
        "2030-01-01T00:00:00+02",    "2030-01-01T12Z",          "2030-01-01T12:30-23:59",
        "2030-01-01T12:30:45.5+01:00", "2030-01-01 00:00:00.000001Z",
    };
    for (const char* text : forms) {
        INFO(text);
        CHECK(parse_eta(text) == ymd(2030, 1, 1));
        CHECK(parse_create_batch(parse_body(batch_with_eta(json(text).dump()))).eta == ymd(2030, 1, 1));
    }
    // The offset is checked, not applied: the date stays the one written.
    CHECK(parse_eta("2030-12-31T23:00:00-05:00") == ymd(2030, 12, 31));
    CHECK(parse_eta("2030-01-01T01:00:00+05:00") == ymd(2030, 1, 1));
}

TEST_CASE("an eta with an invalid time, offset or date is a 400 naming 'eta'", "[requests][eta]") {
    const char* invalid[] = {
        // times out of range
        "2030-01-01T24:00:00", "2030-01-01T99", "2030-01-01T12:60", "2030-01-01T12:30:60", "2030-01-01T12:30:99",
        // offsets out of range or malformed
        "2030-01-01T12:00+24:00", "2030-01-01T12:00+02:60", "2030-01-01T12:00+2", "2030-01-01T12:00+020",
        "2030-01-01T12:00+02:", "2030-01-01T12:00+02:00:00", "2030-01-01T12:00Z+02", "2030-01-01T12:00ZZ",
        "2030-01-01T12:00 +02:00", "2030-01-01T12:00z",
        // malformed times
        "2030-01-01T", "2030-01-01 ", "2030-01-01T1", "2030-01-01T1:00", "2030-01-01T12:", "2030-01-01T12:3",
        "2030-01-01T12:30:", "2030-01-01T12:30:45.", "2030-01-01T12:30.5", "2030-01-01T12.5", "2030-01-01T1230",
        "2030-01-01T12:30:45.5x", "2030-01-01t12:00", "2030-01-01X12:00", "2030-01-01TT12", "2030-01-01T12:30:45\n",
        "2030-01-01T-1:00", "2030-01-01T+1:00", "2030-01-01T１２:00",
        // dates: the domain's one rule
        "2030-02-30", "2030-02-30T00:00:00", "2030-13-01T00:00", "1899-12-31T00:00", "10000-01-01T00:00",
        "2030-1-01T00:00", "20300101T000000", "21/11/2026", "", "T12:00", " 2030-01-01", "2030-01-01Z",
    };
    for (const char* text : invalid) {
        INFO(text);
        CHECK_FALSE(parse_eta(text).has_value());
        auto message = batch_rejection(batch_with_eta(json(text).dump()));
        CHECK_THAT(message, Catch::Matchers::Contains("Field 'eta' must be a real date YYYY-MM-DD or an ISO 8601 "
                                                      "date-time, got "));
    }
    CHECK(batch_rejection(batch_with_eta(R"("2026-02-30")")).find("'eta' must be a real date") != std::string::npos);
    CHECK(batch_rejection(batch_with_eta("20261121")).find("Field 'eta'") != std::string::npos);
    CHECK(batch_rejection(batch_with_eta("[]")).find("Field 'eta'") != std::string::npos);
    CHECK(batch_rejection(batch_with_eta("true")).find("Field 'eta'") != std::string::npos);
}

TEST_CASE("an eta that is not valid UTF-8 is rejected with a message that is", "[requests][eta]") {
    json body{{"ref", "b1"}, {"sku", "CHAIR"}, {"qty", 1}, {"eta", std::string("2030-01-01T\xff", 12)}};
    try {
        parse_create_batch(body);
        FAIL("accepted");
    } catch (const BadRequest& e) {
        CHECK_NOTHROW(json(e.what()).dump());
    }
}

TEST_CASE("a whole number is a quantity, however it is written", "[requests][qty]") {
    CHECK(parse_allocate(parse_body(allocate_with_qty("3"))).qty == 3);
    CHECK(parse_allocate(parse_body(allocate_with_qty("3.0"))).qty == 3);
    CHECK(parse_allocate(parse_body(allocate_with_qty("2e1"))).qty == 20);
    CHECK(parse_allocate(parse_body(allocate_with_qty("1E+9"))).qty == max_quantity);
    CHECK(parse_allocate(parse_body(allocate_with_qty("1000000000"))).qty == max_quantity);
    CHECK(parse_change_batch_quantity(parse_body(R"({"batchref": "b1", "qty": 1.0})")).qty == 1);
    CHECK(parse_create_batch(parse_body(R"({"ref": "b1", "sku": "S", "qty": 5e0, "eta": null})")).qty == 5);
}

TEST_CASE("change_batch_quantity takes 0, which cancels a batch; the other commands do not", "[requests][qty]") {
    CHECK(parse_change_batch_quantity(parse_body(R"({"batchref": "b1", "qty": 0})")).qty == 0);
    CHECK(parse_change_batch_quantity(parse_body(R"({"batchref": "b1", "qty": 0.0})")).qty == 0);
    CHECK_THROWS_WITH(parse_change_batch_quantity(parse_body(R"({"batchref": "b1", "qty": -1})")),
                      "Field 'qty' must be between 0 and 1000000000, got -1");
    CHECK_THROWS_WITH(parse_allocate(parse_body(allocate_with_qty("0"))),
                      "Field 'qty' must be between 1 and 1000000000, got 0");
    CHECK_THROWS_AS(parse_create_batch(parse_body(R"({"ref": "b1", "sku": "S", "qty": 0, "eta": null})")), BadRequest);
}

TEST_CASE("a quantity that is not a whole number in range is a 400 naming 'qty'", "[requests][qty]") {
    SECTION("not whole, or not a number: the e2e tests' 'must be an integer'") {
        for (const char* qty : {"1.5", "0.5", "1e-1", "\"1\"", "true", "null", "[1]", "{\"n\": 1}", "1000000000.5"}) {
            INFO(qty);
            CHECK_THAT(rejection(allocate_with_qty(qty)), Catch::Matchers::Contains("Field 'qty' must be an integer"));
        }
        CHECK_THAT(rejection(allocate_with_qty("1.5")), Catch::Matchers::Contains("whole number"));
    }
    SECTION("whole but out of range: 'must be between 1 and'") {
        for (const char* qty : {"0", "-3", "-0", "-0.0", "0.0", "1e-400", "-1e-400", "1000000001", "2000000000",
                                "1e300", "-1e300", "1.7976931348623157e308", "18446744073709551615",
                                "18446744073709551616", "-9223372036854775808", "-9223372036854775809",
                                "99999999999999999999999999999999"}) {
            INFO(qty);
            CHECK_THAT(rejection(allocate_with_qty(qty)), Catch::Matchers::Contains("Field 'qty' must be between 1 and "
                                                                                    "1000000000, got "));
        }
    }
    SECTION("beyond a double: the top-level field is named") {
        CHECK(rejection(allocate_with_qty("1e400")) == "Field 'qty' is a number out of range");
        CHECK(rejection(allocate_with_qty("-1e400")) == "Field 'qty' is a number out of range");
        CHECK(batch_rejection(R"({"ref": "r", "sku": "s", "qty": 1e400, "eta": null})") ==
              "Field 'qty' is a number out of range");
        CHECK(rejection(R"({"orderid": "o", "sku": "s", "qty": 1, "extra": {"deep": [1, 2, 1e999]}})") ==
              "Field 'extra' is a number out of range");
        CHECK(rejection("1e400") == "A number in the body is out of range");
        CHECK(rejection("[1e400]") == "A number in the body is out of range");
        CHECK(rejection(R"({"q\u0001": 1e400})") == "A number in the body is out of range");
    }
    SECTION("a qty built in code, not parsed, that is not finite") {
        json body{{"orderid", "o"}, {"sku", "s"}, {"qty", std::numeric_limits<double>::infinity()}};
        CHECK_THROWS_AS(parse_allocate(body), BadRequest);
        body["qty"] = std::numeric_limits<double>::quiet_NaN();
        CHECK_THROWS_AS(parse_allocate(body), BadRequest);
        body["qty"] = -std::numeric_limits<double>::infinity();
        CHECK_THROWS_AS(parse_allocate(body), BadRequest);
    }
}

TEST_CASE("NaN and Infinity are not JSON", "[requests][qty]") {
    for (const char* qty : {"NaN", "nan", "Infinity", "-Infinity", "inf", "0x10", "+1", "01", "1.", ".5", "1e"}) {
        INFO(qty);
        CHECK_THAT(rejection(allocate_with_qty(qty)), Catch::Matchers::StartsWith("Malformed JSON body"));
    }
}

TEST_CASE("missing and mistyped fields are named", "[requests]") {
    CHECK(rejection(R"({"sku": "CHAIR", "qty": 1})") == "Missing field 'orderid'");
    CHECK(rejection(R"({"orderid": "o", "qty": 1})") == "Missing field 'sku'");
    CHECK(rejection(R"({"orderid": "o", "sku": "CHAIR"})") == "Missing field 'qty'");
    CHECK(rejection(R"({"orderid": 7, "sku": "CHAIR", "qty": 1})") == "Field 'orderid' must be a string");
    CHECK(rejection(R"({"orderid": "o", "sku": ["CHAIR"], "qty": 1})") == "Field 'sku' must be a string");
    CHECK(rejection(R"({"orderid": "", "sku": "CHAIR", "qty": 1})") == "Field 'orderid' must not be empty");
    CHECK(rejection(R"({"orderid": "o", "sku": "CHA\nIR", "qty": 1})") ==
          "Field 'sku' must not contain control characters");
    CHECK(batch_rejection(R"({"sku": "CHAIR", "qty": 1, "eta": null})") == "Missing field 'ref'");
    CHECK_THROWS_WITH(parse_change_batch_quantity(parse_body(R"({"qty": 1})")), "Missing field 'batchref'");
    CHECK_THROWS_WITH(parse_change_batch_quantity(parse_body(R"({"batchref": "b1"})")), "Missing field 'qty'");
    // A body that is not an object, given to a decoder directly, is missing every field.
    CHECK_THROWS_AS(parse_allocate(json::array({"o", "CHAIR", 1})), BadRequest);
    CHECK_THROWS_AS(parse_create_batch(json(42)), BadRequest);
}

TEST_CASE("a body that is not one JSON object is a 400", "[requests]") {
    CHECK_THAT(rejection(R"({"orderid": "o", "sku": "CHAIR", "qty": 1)"), Catch::Matchers::StartsWith("Malformed JSON"));
    CHECK_THAT(rejection(""), Catch::Matchers::StartsWith("Malformed JSON"));
    CHECK_THAT(rejection("\xff\xfe"), Catch::Matchers::StartsWith("Malformed JSON"));
    CHECK_THAT(rejection(R"({"sku": "\xff"})"), Catch::Matchers::StartsWith("Malformed JSON"));
    CHECK(rejection(R"(["o", "CHAIR", 1])") == "The body must be a JSON object");
    CHECK(rejection("null") == "The body must be a JSON object");
}

TEST_CASE("a body nested deeper than 64 levels is a 400 naming the limit, before the parser builds it",
          "[requests][depth]") {
    auto nested = [](int levels) {  // an object whose field "a" holds levels - 1 nested arrays
        return R"({"a": )" + std::string(levels - 1, '[') + std::string(levels - 1, ']') + "}";
    };
    CHECK(max_body_depth == 64);
    CHECK(rejection(nested(64)) == "Missing field 'orderid'");  // parsed: 64 levels are allowed
    CHECK(rejection(nested(65)) == "The JSON body is nested deeper than 64 levels");
    CHECK(rejection(std::string(65, '[')) == "The JSON body is nested deeper than 64 levels");
    CHECK(rejection(std::string(65, '{')) == "Malformed JSON body (at byte 2)");  // an object needs a key first
    CHECK(rejection(R"({"a": ")" + std::string(100, '[') + R"("})") == "Missing field 'orderid'");  // text, not depth
    // Refused at the 65th level, so the size of what follows it does not matter: it is never parsed.
    CHECK(rejection(std::string(30'000'000, '[')) == "The JSON body is nested deeper than 64 levels");
}

TEST_CASE("any bytes decode to a command or a BadRequest, never another exception", "[requests][garbage]") {
    std::mt19937 random(20240101);
    const std::string alphabet = R"({}[]":,.-+eE0123456789 tfnulrsaq\/T:Z)";
    const std::string fields[] = {R"({"orderid": "o", "sku": "s", "qty": )", R"({"ref": "r", "sku": "s", "qty": 1, "eta": ")"};
    for (int i = 0; i < 20000; ++i) {
        std::string body = i % 3 == 0 ? "" : fields[static_cast<std::size_t>(i) % 2];
        const auto length = random() % 40;
        for (std::uint32_t n = 0; n < length; ++n) {
            body += i % 2 == 0 ? static_cast<char>(random() % 256) : alphabet[random() % alphabet.size()];
        }
        INFO(json(body).dump(-1, ' ', true, json::error_handler_t::replace));
        try {
            auto parsed = parse_body(body);
            REQUIRE(parsed.is_object());
            for (auto decode : {+[](const json& b) { parse_allocate(b); }, +[](const json& b) { parse_create_batch(b); },
                                +[](const json& b) { parse_change_batch_quantity(b); }}) {
                try {
                    decode(parsed);
                } catch (const BadRequest&) {
                }
            }
        } catch (const BadRequest& e) {
            REQUIRE(e.status() == 400);
        }
        CHECK_NOTHROW(parse_eta(body));
    }
}

TEST_CASE("a change_batch_quantity body reaches the one decoder, the Redis consumers' too, and answers with its "
          "messages", "[requests][decoding]") {
    const std::pair<const char*, ChangeBatchQuantityMessage> cases[] = {
        {R"({"qty": 1})", {MissingField{}, std::int64_t{1}}},
        {R"({"batchref": "", "qty": 1})", {std::string_view(""), std::int64_t{1}}},
        {R"({"batchref": ["b1"], "qty": 1})", {OtherValue{"array"}, std::int64_t{1}}},
        {R"({"batchref": "b\u007f", "qty": 1})", {std::string_view("b\x7f"), std::int64_t{1}}},
        {R"({"batchref": "b1"})", {std::string_view("b1"), MissingField{}}},
        {R"({"batchref": "b1", "qty": "1"})", {std::string_view("b1"), std::string_view("1")}},
        {R"({"batchref": "b1", "qty": true})", {std::string_view("b1"), OtherValue{"boolean"}}},
        {R"({"batchref": "b1", "qty": 1.5})", {std::string_view("b1"), 1.5}},
        {R"({"batchref": "b1", "qty": -1})", {std::string_view("b1"), std::int64_t{-1}}},
        {R"({"batchref": "b1", "qty": 2e9})", {std::string_view("b1"), 2e9}},
        {R"({"batchref": "b1", "qty": 18446744073709551615})", {std::string_view("b1"), std::uint64_t{18446744073709551615u}}},
    };
    for (const auto& [body, raw] : cases) {
        INFO(body);
        std::string decoder_says;
        try {
            decode_change_batch_quantity(raw);
        } catch (const MalformedMessage& error) {
            decoder_says = error.what();
        }
        REQUIRE_FALSE(decoder_says.empty());
        CHECK_THROWS_WITH(parse_change_batch_quantity(parse_body(body)), decoder_says);
        CHECK_THROWS_AS(parse_change_batch_quantity(parse_body(body)), BadRequest);
    }
    CHECK(parse_change_batch_quantity(parse_body(R"({"batchref": "b1", "qty": 5})")) ==
          commands::ChangeBatchQuantity{"b1", 5});  // no message id: applied on every request
}
