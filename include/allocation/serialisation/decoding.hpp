// The one decoder of a message that carries a command from outside: each transport (an HTTP body, a Redis channel's
// JSON, a Redis stream entry's fields) only extracts its raw values, and the checks and the error messages live here.
// Input validation at the edge, not a rule of the domain: it asks the domain's rules (rules.hpp) and words the
// refusal for the sender.
#pragma once

#include <charconv>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>

#include <fmt/format.h>

#include "allocation/domain/commands.hpp"
#include "allocation/domain/errors.hpp"
#include "allocation/domain/rules.hpp"

namespace allocation {

/// A field the message does not have.
struct MissingField {};
/// A number written as text, by a transport whose values are all text (a Redis stream entry's fields).
struct DecimalText {
    std::string_view text;
};
/// A value of a kind no field accepts (a JSON array, object, boolean or null); `kind` names it ("array").
struct OtherValue {
    std::string_view kind;
};

/// A field's value as a transport found it, before any rule: absent, a string, a number (as text or in one of
/// JSON's three forms), or a value of another kind. It refers to the transport's bytes, which must outlive it.
using RawField = std::variant<MissingField, std::string_view, DecimalText, std::int64_t, std::uint64_t, double,
                              OtherValue>;

/// A change_batch_quantity message as its transport carries it: {"batchref": "...", "qty": N} in JSON, or the fields
/// `batchref`, `qty` and `id` of a Redis stream entry.
struct ChangeBatchQuantityMessage {
    RawField batchref;
    RawField qty;
    /// The message's own id (a stream entry's field `id`); empty counts as none.
    std::optional<std::string_view> id{};
    /// The id of a message without one of its own, when its transport has one ("<stream>:<entry id>"); with
    /// neither, the command has no message id and is applied on every delivery.
    std::optional<std::string> transport_id{};
};

namespace detail {

inline std::string field_label(std::string_view name) { return "Field '" + std::string(name) + "'"; }

/// An id field (a batch reference, ...): a string that id_problem accepts.
inline std::string decode_id_field(const RawField& value, std::string_view name) {
    if (std::holds_alternative<MissingField>(value)) throw MalformedMessage("Missing field '" + std::string(name) + "'");
    const auto* text = std::get_if<std::string_view>(&value);
    if (text == nullptr) throw MalformedMessage(field_label(name) + " must be a string");
    if (auto problem = id_problem(*text)) throw MalformedMessage(field_label(name) + " " + *problem);
    return std::string(*text);
}

[[noreturn]] inline void throw_out_of_range(std::string_view name, std::string_view shown, Quantity minimum) {
    throw MalformedMessage(field_label(name) + " " + quantity_range(minimum) + ", got " + std::string(shown));
}

/// An integer of any width, checked by the domain's quantity rule before it is narrowed.
template <typename Integer>
Quantity checked_quantity(Integer qty, std::string_view name, Quantity minimum) {
    if (!quantity_in_range(qty, minimum)) throw_out_of_range(name, std::to_string(qty), minimum);
    return static_cast<Quantity>(qty);
}

/// JSON does not tell 3 from 3.0, and neither does the book's service: a whole number is that integer.
inline Quantity whole_quantity(double qty, std::string_view name, Quantity minimum) {
    if (!std::isfinite(qty)) throw MalformedMessage(field_label(name) + " is a number out of range");
    if (std::trunc(qty) != qty) {
        throw MalformedMessage(field_label(name) + " must be an integer (a whole number), got " + fmt::format("{}", qty));
    }
    if (!quantity_in_range(qty, minimum)) throw_out_of_range(name, fmt::format("{}", qty), minimum);
    return static_cast<Quantity>(qty);
}

/// A decimal integer written as text ("5", "-1"): nothing else, not even a sign '+' or a space.
inline Quantity decimal_quantity(std::string_view text, std::string_view name, Quantity minimum) {
    std::int64_t qty = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), qty);
    const bool whole_text = error != std::errc::invalid_argument && end == text.data() + text.size();
    if (error == std::errc::result_out_of_range && whole_text) throw_out_of_range(name, text, minimum);
    if (error != std::errc{} || !whole_text) {
        throw MalformedMessage(field_label(name) + " must be an integer, got '" + std::string(text.substr(0, 40)) + "'");
    }
    return checked_quantity(qty, name, minimum);
}

/// A quantity field, from `minimum` to max_quantity.
inline Quantity decode_quantity_field(const RawField& value, std::string_view name, Quantity minimum) {
    return std::visit(
        [&](const auto& raw) -> Quantity {
            using Raw = std::decay_t<decltype(raw)>;
            if constexpr (std::is_same_v<Raw, MissingField>) {
                throw MalformedMessage("Missing field '" + std::string(name) + "'");
            } else if constexpr (std::is_same_v<Raw, std::string_view>) {
                throw MalformedMessage(field_label(name) + " must be an integer, got string");
            } else if constexpr (std::is_same_v<Raw, OtherValue>) {
                throw MalformedMessage(field_label(name) + " must be an integer, got " + std::string(raw.kind));
            } else if constexpr (std::is_same_v<Raw, DecimalText>) {
                return decimal_quantity(raw.text, name, minimum);
            } else if constexpr (std::is_same_v<Raw, double>) {
                return whole_quantity(raw, name, minimum);
            } else {
                return checked_quantity(raw, name, minimum);
            }
        },
        value);
}

}  // namespace detail

/// The ChangeBatchQuantity a message asks for: `batchref` an id, `qty` a whole number from 0 (which cancels the
/// batch) to max_quantity, and the message id its own `id` when it has a non-empty one, else its transport's. Throws
/// MalformedMessage naming the field ("Missing field 'qty'", "Field 'qty' must be an integer, got 'five'").
inline commands::ChangeBatchQuantity decode_change_batch_quantity(const ChangeBatchQuantityMessage& message) {
    commands::ChangeBatchQuantity cmd;
    cmd.ref = detail::decode_id_field(message.batchref, "batchref");
    cmd.qty = detail::decode_quantity_field(message.qty, "qty", min_changed_quantity);
    if (message.id && !message.id->empty()) {
        cmd.message_id = std::string(*message.id);
    } else {
        cmd.message_id = message.transport_id;
    }
    return cmd;
}

}  // namespace allocation
