// libFuzzer target for the HTTP API's request decoding: any bytes decode to a command or a BadRequest, never
// another exception, and whatever is accepted obeys the domain's rules and nests at most max_body_depth deep. A
// violation traps; any other exception escapes and aborts the run.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <regex>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "allocation/domain/rules.hpp"
#include "allocation/adapters/http/requests.hpp"

namespace {

using allocation::http::BadRequest;
using nlohmann::json;

void require(bool condition) {
    if (!condition) __builtin_trap();
}

// A rejection is a 4xx whose message can be written to a reply and a log line as it is (valid UTF-8).
void check_rejection(const BadRequest& e) {
    require(e.status() >= 400 && e.status() < 500);
    require(!std::string_view(e.what()).empty());
    json(e.what()).dump();  // throws type_error on invalid UTF-8, which aborts
}

void check_id(const std::string& id, const json& body, const char* name) {
    require(!allocation::id_problem(id).has_value());
    require(body.at(name) == id);
}

// `least` is 1 for a line or a new batch, 0 for a quantity change (a cancelled shipment).
void check_qty(allocation::Quantity qty, const json& body, allocation::Quantity least = 1) {
    require(qty >= least && qty <= allocation::max_quantity);
    require(body.at("qty") == qty || body.at("qty") == static_cast<double>(qty));
}

// An accepted eta names a real day, re-formats to a date the domain reads back, and is the date as written.
void check_eta(std::string_view text, const allocation::Date& date) {
    require(date.ok());
    const std::string formatted = allocation::to_string(date);
    require(allocation::parse_date(formatted) == date);
    require(text.substr(0, 10) == formatted);
    require(text.size() == 10 || text[10] == 'T' || text[10] == ' ');
}

// A second statement of the accepted forms, written differently (a regular expression and range checks), so that
// the fuzzer compares two readings of the grammar. The date itself is the domain's rule in both.
bool reference_accepts(std::string_view text) {
    static const std::regex form(R"((\d{4}-\d{2}-\d{2})(?:[T ](\d{2})(?::(\d{2})(?::(\d{2})(?:[.,]\d+)?)?)?)"
                                 R"((?:Z|[+-](\d{2})(?::?(\d{2}))?)?)?)");
    std::match_results<std::string_view::const_iterator> m;
    if (!std::regex_match(text.begin(), text.end(), m, form)) return false;
    auto below = [&](std::size_t group, int limit) { return !m[group].matched || std::stoi(m[group].str()) < limit; };
    return allocation::parse_date(m[1].str()).has_value() && below(2, 24) && below(3, 60) && below(4, 60) &&
           below(5, 24) && below(6, 60);
}

void fuzz_eta(std::string_view text) {
    auto date = allocation::http::parse_eta(text);
    if (date) check_eta(text, *date);
    if (text.size() <= 64) require(date.has_value() == reference_accepts(text));  // std::regex recurses per byte
    if (text.size() == 10) require(date == allocation::parse_date(text));
    // The same text as a body's eta: the decoder agrees with parse_eta.
    json body{{"ref", "r"}, {"sku", "s"}, {"qty", 1}, {"eta", std::string(text)}};
    try {
        auto cmd = allocation::http::parse_create_batch(body);
        require(cmd.eta.has_value() && cmd.eta == date);
    } catch (const BadRequest& e) {
        check_rejection(e);
        require(!date.has_value());
    }
}

template <typename Decode, typename Check>
void decode(const json& body, Decode decode_fn, Check check) {
    try {
        check(decode_fn(body));
    } catch (const BadRequest& e) {
        check_rejection(e);
    }
}

// How many objects and arrays `value` nests, itself counted.
int depth_of(const json& value) {
    int deepest = 0;
    if (value.is_structured()) {
        for (const json& element : value) deepest = std::max(deepest, depth_of(element));
    }
    return value.is_structured() ? deepest + 1 : 0;
}

void fuzz_body(std::string_view bytes) {
    json body;
    try {
        body = allocation::http::parse_body(bytes);
    } catch (const BadRequest& e) {
        check_rejection(e);
        return;
    }
    require(body.is_object());
    require(depth_of(body) <= allocation::http::max_body_depth);
    decode(body, allocation::http::parse_allocate, [&](const allocation::commands::Allocate& cmd) {
        check_id(cmd.orderid, body, "orderid");
        check_id(cmd.sku, body, "sku");
        check_qty(cmd.qty, body);
    });
    decode(body, allocation::http::parse_create_batch, [&](const allocation::commands::CreateBatch& cmd) {
        check_id(cmd.ref, body, "ref");
        check_id(cmd.sku, body, "sku");
        check_qty(cmd.qty, body);
        if (cmd.eta) check_eta(body.at("eta").get_ref<const std::string&>(), *cmd.eta);
    });
    decode(body, allocation::http::parse_change_batch_quantity,
           [&](const allocation::commands::ChangeBatchQuantity& cmd) {
               check_id(cmd.ref, body, "batchref");
               check_qty(cmd.qty, body, 0);
           });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view bytes(reinterpret_cast<const char*>(data), size);
    fuzz_body(bytes);
    fuzz_eta(bytes);
    return 0;
}
