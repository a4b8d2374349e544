// The raw values of a parsed JSON object's fields, for the decoders of decoding.hpp: what every adapter that reads
// the book's JSON with nlohmann_json (the HTTP adapter, the Redis consumers) shares. Only those adapters include it,
// and they link nlohmann_json.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "allocation/serialisation/decoding.hpp"

namespace allocation {

/// The value of field `name` of `object` as it stands, for decode_change_batch_quantity and its kind to judge.
inline RawField raw_field(const nlohmann::json& object, const char* name) {
    auto it = object.find(name);
    if (it == object.end()) return MissingField{};
    if (it->is_string()) return std::string_view(it->get_ref<const std::string&>());
    if (it->is_number_unsigned()) return it->get<std::uint64_t>();
    if (it->is_number_integer()) return it->get<std::int64_t>();
    if (it->is_number_float()) return it->get<double>();
    return OtherValue{it->type_name()};
}

/// A ChangeBatchQuantity from a JSON object {"batchref": "...", "qty": N}, without a message id. Throws
/// MalformedMessage naming the field.
inline commands::ChangeBatchQuantity decode_change_batch_quantity(const nlohmann::json& object) {
    return decode_change_batch_quantity(
        ChangeBatchQuantityMessage{raw_field(object, "batchref"), raw_field(object, "qty")});
}

}  // namespace allocation
