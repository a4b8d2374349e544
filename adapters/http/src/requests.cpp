// Validation of request bodies: each rule names the field it is about.
#include "allocation/adapters/http/requests.hpp"

#include <cmath>
#include <cstdint>
#include <optional>

#include "allocation/serialisation/json_fields.hpp"
#include "allocation/domain/rules.hpp"

namespace allocation::http {

namespace {

using nlohmann::json;

std::string field_name(std::string_view name) { return "Field '" + std::string(name) + "'"; }

const json& field(const json& body, const char* name) {
    auto it = body.find(name);
    if (it == body.end()) throw BadRequest(std::string("Missing field '") + name + "'");
    return *it;
}

std::string text_field(const json& body, const char* name) {
    const json& value = field(body, name);
    if (!value.is_string()) throw BadRequest(field_name(name) + " must be a string");
    const auto& text = value.get_ref<const std::string&>();
    if (auto problem = id_problem(text)) throw BadRequest(field_name(name) + " " + *problem);
    return text;
}

[[noreturn]] void throw_out_of_range(const char* name, const json& value, Quantity minimum) {
    throw BadRequest(field_name(name) + " " + quantity_range(minimum) + ", got " + value.dump());
}

// JSON does not tell 3 from 3.0, and neither does the book's service: a whole float is that integer.
Quantity whole_quantity(const json& value, const char* name, Quantity minimum) {
    const double number = value.get<double>();
    if (!std::isfinite(number)) throw BadRequest(field_name(name) + " is a number out of range");
    if (std::trunc(number) != number) {
        throw BadRequest(field_name(name) + " must be an integer (a whole number), got " + value.dump());
    }
    if (!quantity_in_range(number, minimum)) throw_out_of_range(name, value, minimum);
    return static_cast<Quantity>(number);
}

// The range is the domain's rule (quantity_in_range); only the wording, which names the field, is the service's.
Quantity qty_field(const json& body, const char* name, Quantity minimum = min_quantity) {
    const json& value = field(body, name);
    if (!value.is_number()) throw BadRequest(field_name(name) + " must be an integer, got " + value.type_name());
    if (value.is_number_float()) return whole_quantity(value, name, minimum);
    const bool in_range = value.is_number_unsigned() ? quantity_in_range(value.get<std::uint64_t>(), minimum)
                                                     : quantity_in_range(value.get<std::int64_t>(), minimum);
    if (!in_range) throw_out_of_range(name, value, minimum);
    return value.get<Quantity>();
}

// Reads the time of an ISO 8601 date-time from the front; each read consumes only what it accepts.
class TimeReader {
public:
    explicit TimeReader(std::string_view text) : rest_(text) {}

    bool done() const { return rest_.empty(); }

    bool eat(char c) {
        if (rest_.empty() || rest_.front() != c) return false;
        rest_.remove_prefix(1);
        return true;
    }

    /// Two digits naming a number below `limit` (24 for hours, 60 for minutes and seconds).
    bool two_digits_below(int limit) {
        if (rest_.size() < 2 || !is_digit(rest_[0]) || !is_digit(rest_[1])) return false;
        const int value = (rest_[0] - '0') * 10 + (rest_[1] - '0');
        rest_.remove_prefix(2);
        return value < limit;
    }

    /// One digit or more (a fraction of a second, any precision).
    bool digits() {
        std::size_t n = 0;
        while (n < rest_.size() && is_digit(rest_[n])) ++n;
        rest_.remove_prefix(n);
        return n > 0;
    }

private:
    static bool is_digit(char c) { return c >= '0' && c <= '9'; }

    std::string_view rest_;
};

// HH, HH:MM or HH:MM:SS, the seconds optionally with a fraction (.5, ,123456).
bool read_time(TimeReader& in) {
    if (!in.two_digits_below(24)) return false;
    if (!in.eat(':')) return true;
    if (!in.two_digits_below(60)) return false;
    if (!in.eat(':')) return true;
    if (!in.two_digits_below(60)) return false;
    if (in.eat('.') || in.eat(',')) return in.digits();
    return true;
}

// Z, or a sign and HH, HH:MM or HHMM. The offset is checked, not applied: the date is kept as written.
bool read_offset(TimeReader& in) {
    if (in.eat('Z')) return true;
    if (!in.eat('+') && !in.eat('-')) return false;
    if (!in.two_digits_below(24)) return false;
    if (in.done()) return true;
    in.eat(':');
    return in.two_digits_below(60);
}

std::optional<Date> eta_field(const json& body) {
    auto it = body.find("eta");
    if (it == body.end() || it->is_null()) return std::nullopt;
    if (!it->is_string()) {
        throw BadRequest("Field 'eta' must be a date YYYY-MM-DD, an ISO 8601 date-time, or null, got " +
                         std::string(it->type_name()));
    }
    auto date = parse_eta(it->get_ref<const std::string&>());
    if (!date) {
        throw BadRequest("Field 'eta' must be a real date YYYY-MM-DD or an ISO 8601 date-time, got " + to_text(*it));
    }
    return date;
}

// Names the field a number that overflowed a double was in, when it is printable.
std::string out_of_range_message(const std::string& top_level_key) {
    if (top_level_key.empty() || id_problem(top_level_key)) return "A number in the body is out of range";
    return field_name(top_level_key) + " is a number out of range";
}

json object_body(json parsed) {
    if (!parsed.is_object()) throw BadRequest("The body must be a JSON object");
    return parsed;
}

}  // namespace

std::optional<Date> parse_eta(std::string_view text) {
    auto date = parse_date(text.substr(0, 10));  // the one rule for dates
    if (!date || text.size() == 10) return date;
    TimeReader in(text.substr(10));
    const bool date_time = (in.eat('T') || in.eat(' ')) && read_time(in) && (in.done() || read_offset(in)) && in.done();
    return date_time ? date : std::nullopt;
}

std::string to_text(const nlohmann::json& value) {
    return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

nlohmann::json parse_body(std::string_view body) {
    std::string top_level_key;  // the field a failure is in
    // `depth` counts the objects and arrays around the event's value; a refusal stops the parse before it builds
    // the deeper one.
    auto watch = [&top_level_key](int depth, json::parse_event_t event, json& parsed) {
        const bool opens = event == json::parse_event_t::object_start || event == json::parse_event_t::array_start;
        if (opens && depth >= max_body_depth) {
            throw BadRequest("The JSON body is nested deeper than " + std::to_string(max_body_depth) + " levels");
        }
        if (event == json::parse_event_t::key && depth == 1) {
            if (const auto* key = parsed.get_ptr<const std::string*>()) top_level_key = *key;
        }
        return true;
    };
    try {
        return object_body(json::parse(body, watch));
    } catch (const json::parse_error& error) {
        throw BadRequest("Malformed JSON body (at byte " + std::to_string(error.byte) + ")");
    } catch (const json::out_of_range& error) {
        if (error.id == 406) throw BadRequest(out_of_range_message(top_level_key));  // beyond a double: 1e400
        throw BadRequest("Malformed JSON body");
    } catch (const json::exception&) {
        throw BadRequest("Malformed JSON body");
    }
}

commands::CreateBatch parse_create_batch(const nlohmann::json& body) {
    commands::CreateBatch cmd;
    cmd.ref = text_field(body, "ref");
    cmd.sku = text_field(body, "sku");
    cmd.qty = qty_field(body, "qty");
    cmd.eta = eta_field(body);
    return cmd;
}

commands::Allocate parse_allocate(const nlohmann::json& body) {
    commands::Allocate cmd;
    cmd.orderid = text_field(body, "orderid");
    cmd.sku = text_field(body, "sku");
    cmd.qty = qty_field(body, "qty");
    return cmd;
}

// The body's raw values only: the rules and their messages are allocation::decode_change_batch_quantity's, shared
// with the Redis consumers.
commands::ChangeBatchQuantity parse_change_batch_quantity(const nlohmann::json& body) {
    try {
        return decode_change_batch_quantity(body);
    } catch (const MalformedMessage& error) {
        throw BadRequest(error.what());
    }
}

}  // namespace allocation::http
