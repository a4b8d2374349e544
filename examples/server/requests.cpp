// Validation of request bodies: each rule names the field it is about.
#include "requests.hpp"

#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>

#include "allocation/domain/format.hpp"
#include "allocation/domain/model.hpp"

namespace allocation::service {

namespace {

using nlohmann::json;

const json& field(const json& body, const char* name) {
    auto it = body.find(name);
    if (it == body.end()) throw BadRequest(std::string("Missing field '") + name + "'");
    return *it;
}

std::string text_field(const json& body, const char* name) {
    const json& value = field(body, name);
    if (!value.is_string()) throw BadRequest(std::string("Field '") + name + "' must be a string");
    const auto& text = value.get_ref<const std::string&>();
    if (auto problem = id_problem(text)) throw BadRequest(std::string("Field '") + name + "' " + *problem);
    return text;
}

Quantity qty_field(const json& body, const char* name) {
    const json& value = field(body, name);
    if (value.is_number_float() && std::trunc(value.get<double>()) == value.get<double>() &&
        std::fabs(value.get<double>()) > max_quantity) {
        // A whole number too large for an integer: say what the range is.
        throw BadRequest(std::string("Field '") + name + "' must be between 1 and " + std::to_string(max_quantity) +
                         ", got " + value.dump());
    }
    if (!value.is_number_integer()) throw BadRequest(std::string("Field '") + name + "' must be an integer");
    const bool in_range = value.is_number_unsigned()
                              ? value.get<std::uint64_t>() <= static_cast<std::uint64_t>(max_quantity) &&
                                    value.get<std::uint64_t>() >= 1
                              : value.get<std::int64_t>() >= 1 && value.get<std::int64_t>() <= max_quantity;
    if (!in_range) {
        throw BadRequest(std::string("Field '") + name + "' must be between 1 and " + std::to_string(max_quantity) +
                         ", got " + value.dump());
    }
    return value.get<Quantity>();
}

std::optional<Date> eta_field(const json& body) {
    auto it = body.find("eta");
    if (it == body.end() || it->is_null()) return std::nullopt;
    if (!it->is_string()) throw BadRequest("Field 'eta' must be a date written YYYY-MM-DD, or null");
    auto date = parse_date(it->get_ref<const std::string&>());
    if (!date) {
        throw BadRequest("Field 'eta' must be a real date written YYYY-MM-DD, got " + to_text(*it));
    }
    return date;
}

}  // namespace

std::string to_text(const nlohmann::json& value) {
    return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

nlohmann::json parse_body(std::string_view body) {
    json parsed;
    try {
        parsed = json::parse(body);
    } catch (const json::parse_error& error) {
        throw BadRequest("Malformed JSON body (at byte " + std::to_string(error.byte) + ")");
    }
    if (!parsed.is_object()) throw BadRequest("The body must be a JSON object");
    return parsed;
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

commands::ChangeBatchQuantity parse_change_batch_quantity(const nlohmann::json& body) {
    commands::ChangeBatchQuantity cmd;
    cmd.ref = text_field(body, "batchref");
    cmd.qty = qty_field(body, "qty");
    return cmd;
}

}  // namespace allocation::service
