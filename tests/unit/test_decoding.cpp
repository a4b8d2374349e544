// The one decoder of change_batch_quantity messages (serialisation/decoding.hpp): every rule and every message, over
// the raw values a transport extracts.
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include "allocation/serialisation/decoding.hpp"
#include "catch.hpp"

using namespace allocation;

namespace {

ChangeBatchQuantityMessage message(RawField batchref, RawField qty) { return {batchref, qty}; }

// The message of the MalformedMessage that decoding throws, or "" when it accepts the message.
std::string refusal(const ChangeBatchQuantityMessage& raw) {
    try {
        decode_change_batch_quantity(raw);
        return "";
    } catch (const MalformedMessage& error) {
        return error.what();
    }
}

const RawField b1 = std::string_view("b1");

}  // namespace

TEST_CASE("a change_batch_quantity message decodes to the command, whichever form its quantity has",
          "[decoding]") {
    using Command = commands::ChangeBatchQuantity;
    CHECK(decode_change_batch_quantity(message(b1, std::int64_t{5})) == Command{"b1", 5});
    CHECK(decode_change_batch_quantity(message(b1, std::uint64_t{5})) == Command{"b1", 5});
    CHECK(decode_change_batch_quantity(message(b1, 5.0)) == Command{"b1", 5});
    CHECK(decode_change_batch_quantity(message(b1, DecimalText{"5"})) == Command{"b1", 5});
    CHECK(decode_change_batch_quantity(message(b1, DecimalText{"0"})).qty == 0);  // cancels the batch
    CHECK(decode_change_batch_quantity(message(b1, DecimalText{"1000000000"})).qty == max_quantity);
}

TEST_CASE("a missing or unusable batchref is refused, naming the field", "[decoding]") {
    const RawField five = std::int64_t{5};
    CHECK(refusal(message(MissingField{}, five)) == "Missing field 'batchref'");
    CHECK(refusal(message(std::string_view(""), five)) == "Field 'batchref' must not be empty");
    CHECK(refusal(message(std::int64_t{7}, five)) == "Field 'batchref' must be a string");
    CHECK(refusal(message(DecimalText{"7"}, five)) == "Field 'batchref' must be a string");
    CHECK(refusal(message(OtherValue{"array"}, five)) == "Field 'batchref' must be a string");
    CHECK(refusal(message(std::string_view("b\n1"), five)) == "Field 'batchref' must not contain control characters");
    CHECK(refusal(message(std::string_view("\xff"), five)) == "Field 'batchref' must be valid UTF-8");
    const std::string long_ref(max_id_length + 1, 'b');
    CHECK(refusal(message(std::string_view(long_ref), five)) == "Field 'batchref' must be at most 255 bytes long");
}

TEST_CASE("a missing quantity, or one that is not an integer, is refused, naming the field", "[decoding]") {
    CHECK(refusal(message(b1, MissingField{})) == "Missing field 'qty'");
    CHECK(refusal(message(b1, DecimalText{"five"})) == "Field 'qty' must be an integer, got 'five'");
    CHECK(refusal(message(b1, DecimalText{""})) == "Field 'qty' must be an integer, got ''");
    CHECK(refusal(message(b1, DecimalText{"5.0"})) == "Field 'qty' must be an integer, got '5.0'");
    CHECK(refusal(message(b1, DecimalText{"+5"})) == "Field 'qty' must be an integer, got '+5'");
    CHECK(refusal(message(b1, DecimalText{"99999999999999999999x"})) ==
          "Field 'qty' must be an integer, got '99999999999999999999x'");
    const std::string long_text(100, 'x');
    CHECK(refusal(message(b1, DecimalText{long_text})).size() ==
          std::string("Field 'qty' must be an integer, got ''").size() + 40);  // the text is cut to 40 bytes
    CHECK(refusal(message(b1, std::string_view("5"))) == "Field 'qty' must be an integer, got string");
    CHECK(refusal(message(b1, OtherValue{"boolean"})) == "Field 'qty' must be an integer, got boolean");
    CHECK(refusal(message(b1, 1.5)) == "Field 'qty' must be an integer (a whole number), got 1.5");
    CHECK(refusal(message(b1, std::numeric_limits<double>::infinity())) == "Field 'qty' is a number out of range");
    CHECK(refusal(message(b1, std::numeric_limits<double>::quiet_NaN())) == "Field 'qty' is a number out of range");
}

TEST_CASE("a quantity out of range is refused by the domain's rule, 0 to max_quantity", "[decoding]") {
    const std::string range = "Field 'qty' must be between 0 and 1000000000, got ";
    CHECK(refusal(message(b1, std::int64_t{-1})) == range + "-1");
    CHECK(refusal(message(b1, std::int64_t{max_quantity} + 1)) == range + "1000000001");
    CHECK(refusal(message(b1, std::numeric_limits<std::uint64_t>::max())) == range + "18446744073709551615");
    CHECK(refusal(message(b1, 2e9)) == range + "2000000000");
    CHECK(refusal(message(b1, -1.0)) == range + "-1");
    CHECK(refusal(message(b1, DecimalText{"-1"})) == range + "-1");
    CHECK(refusal(message(b1, DecimalText{"1000000001"})) == range + "1000000001");
    CHECK(refusal(message(b1, DecimalText{"99999999999999999999"})) == range + "99999999999999999999");
}

TEST_CASE("the message id is the message's own non-empty id, else its transport's, else none", "[decoding]") {
    ChangeBatchQuantityMessage raw = message(b1, std::int64_t{5});
    CHECK_FALSE(decode_change_batch_quantity(raw).message_id.has_value());  // pub/sub, HTTP: applied every time
    raw.transport_id = "allocation:change_batch_quantity:1-0";
    CHECK(decode_change_batch_quantity(raw).message_id == "allocation:change_batch_quantity:1-0");
    raw.id = "";
    CHECK(decode_change_batch_quantity(raw).message_id == "allocation:change_batch_quantity:1-0");
    raw.id = "m1";
    CHECK(decode_change_batch_quantity(raw).message_id == "m1");
    raw.transport_id.reset();
    CHECK(decode_change_batch_quantity(raw).message_id == "m1");
}

TEST_CASE("a malformed message is an allocation::Error that no retry can cure", "[decoding]") {
    CHECK_THROWS_AS(decode_change_batch_quantity(message(MissingField{}, MissingField{})), MalformedMessage);
    CHECK_THROWS_AS(decode_change_batch_quantity(message(MissingField{}, MissingField{})), Error);
    // The batchref is checked first: a message wrong everywhere names it.
    CHECK(refusal(message(MissingField{}, MissingField{})) == "Missing field 'batchref'");
}
