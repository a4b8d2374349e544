// The HTTP API's request bodies: JSON in, commands out, with a 4xx message naming the field for anything wrong.
#pragma once

#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "allocation/domain/commands.hpp"
#include "allocation/domain/model.hpp"

namespace allocation::http {

/// A request the server will not act on; `status` is the 4xx to answer with.
class BadRequest : public std::runtime_error {
public:
    explicit BadRequest(const std::string& message, int status = 400) : std::runtime_error(message), status_(status) {}
    int status() const noexcept { return status_; }

private:
    int status_;
};

/// How many objects and arrays a request body may nest, the body's own object counted: {"a": [1]} is 2 deep.
inline constexpr int max_body_depth = 64;

/// Parses a request body that must be one JSON object. Throws BadRequest, and nothing else, for any bytes: a
/// number too large for a double names the top-level field it was in; a body nested deeper than max_body_depth
/// is refused as soon as the parser reaches the level beyond it.
nlohmann::json parse_body(std::string_view body);

/// The date an ETA names: "YYYY-MM-DD", or an ISO 8601 date-time ("2030-01-01T12:30:00.5+02:00") whose date is
/// kept, as the book's `datetime.fromisoformat(eta).date()` does. Nothing when the text is neither.
std::optional<Date> parse_eta(std::string_view text);

/// {"ref", "sku", "qty", "eta": "YYYY-MM-DD", an ISO 8601 date-time, or null (or absent)}. Like the two below,
/// throws only BadRequest: a quantity is a whole number 1..max_quantity (3.0 counts as 3), or 0..max_quantity
/// for change_batch_quantity.
commands::CreateBatch parse_create_batch(const nlohmann::json& body);
/// {"orderid", "sku", "qty"}
commands::Allocate parse_allocate(const nlohmann::json& body);
/// {"batchref", "qty"}
commands::ChangeBatchQuantity parse_change_batch_quantity(const nlohmann::json& body);

/// JSON text that never throws on text that is not valid UTF-8 (it is replaced).
std::string to_text(const nlohmann::json& value);

}  // namespace allocation::http
