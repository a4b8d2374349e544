// The one rule for each kind of value the domain accepts (ids, quantities, dates): every entry point and every
// adapter asks these, so that whatever the domain accepts can be stored and read back by every adapter.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "allocation/detail/utf8.hpp"
#include "allocation/domain/errors.hpp"

namespace allocation {

using Date = std::chrono::year_month_day;
using Quantity = int;

// ---- ids

/// The longest id (order id, SKU, batch reference) that the domain accepts.
inline constexpr std::size_t max_id_length = 255;

/// What is wrong with `text` as an id (order id, SKU, batch reference), phrased to follow the field's name
/// ("must not be empty"), or nothing when it is fine. Ids are 1 to max_id_length bytes of valid UTF-8 without
/// control characters, so that every id can be stored as text, looked up by URL, published as JSON and written
/// to a log line safely.
inline std::optional<std::string> id_problem(std::string_view text) {
    if (text.empty()) return "must not be empty";
    if (text.size() > max_id_length) return "must be at most " + std::to_string(max_id_length) + " bytes long";
    if (std::all_of(text.begin(), text.end(), [](char c) { return c >= 0x20 && c < 0x7F; })) return std::nullopt;
    for (std::string_view rest = text; !rest.empty();) {
        const std::size_t length = detail::utf8_sequence_length(rest);
        if (length == 0) return "must be valid UTF-8";
        if (detail::is_control(rest.substr(0, length))) return "must not contain control characters";
        rest.remove_prefix(length);
    }
    return std::nullopt;
}

/// Throws InvalidId unless `text` is an id; `what` names it in the message ("batch reference must not be empty").
inline void check_id(std::string_view text, std::string_view what) {
    if (auto problem = id_problem(text)) throw InvalidId(std::string(what) + " " + *problem);
}

// ---- quantities

/// The largest quantity a line or a batch may carry. Anything above is treated as a typo.
inline constexpr Quantity max_quantity = 1'000'000'000;
/// The least quantity of an order line or of a new batch.
inline constexpr Quantity min_quantity = 1;
/// The least quantity a batch may be changed to: 0 cancels a shipment and releases all its lines.
inline constexpr Quantity min_changed_quantity = 0;

/// Whether `qty` lies in minimum..max_quantity. Takes any arithmetic type, so that a decoder asks before it
/// narrows a number to a Quantity.
template <typename Number>
    requires std::is_arithmetic_v<Number> && (!std::is_same_v<Number, bool>)
constexpr bool quantity_in_range(Number qty, Quantity minimum = min_quantity) noexcept {
    if constexpr (std::is_floating_point_v<Number>) {
        return qty >= minimum && qty <= max_quantity;  // false for NaN
    } else {
        return std::cmp_greater_equal(qty, minimum) && std::cmp_less_equal(qty, max_quantity);
    }
}

/// The range, phrased to follow a field's name: "must be between 1 and 1000000000".
inline std::string quantity_range(Quantity minimum = min_quantity) {
    return "must be between " + std::to_string(minimum) + " and " + std::to_string(max_quantity);
}

/// Throws InvalidQuantity unless minimum <= qty <= max_quantity; `field` names the input in the message.
inline void check_quantity(Quantity qty, std::string_view field = "qty", Quantity minimum = min_quantity) {
    if (!quantity_in_range(qty, minimum)) {
        throw InvalidQuantity(std::string(field) + " " + quantity_range(minimum) + ", got " + std::to_string(qty));
    }
}

// ---- dates

/// The years a date may name: anything else is a typo, not an ETA.
inline constexpr int min_year = 1900;
inline constexpr int max_year = 9999;

/// Whether `date` is a real day of the years min_year..max_year: exactly the dates that are written
/// "YYYY-MM-DD" and read back by parse_date.
constexpr bool date_in_range(const Date& date) noexcept {
    return date.ok() && static_cast<int>(date.year()) >= min_year && static_cast<int>(date.year()) <= max_year;
}

namespace detail {
inline std::string padded(long long value, std::size_t width) {
    std::string digits = std::to_string(value < 0 ? -value : value);
    if (digits.size() < width) digits.insert(0, width - digits.size(), '0');
    return value < 0 ? "-" + digits : digits;
}
/// "YYYY-MM-DD" for any Date, a real day or not, so that a refusal can name the value it refuses.
inline std::string date_text(const Date& date) {
    return padded(static_cast<int>(date.year()), 4) + "-" + padded(static_cast<unsigned>(date.month()), 2) + "-" +
           padded(static_cast<unsigned>(date.day()), 2);
}
}  // namespace detail

/// "YYYY-MM-DD".
inline std::string to_string(const Date& date) { return detail::date_text(date); }

/// Parses a calendar date written "YYYY-MM-DD" (digits only); nothing when the text is not exactly that or
/// not a date_in_range, the rule every eta the domain accepts keeps.
inline std::optional<Date> parse_date(std::string_view text) {
    if (text.size() != 10 || text[4] != '-' || text[7] != '-') return std::nullopt;
    auto number = [&](std::size_t pos, std::size_t len) -> std::optional<int> {
        int value = 0;
        for (std::size_t i = pos; i < pos + len; ++i) {
            if (text[i] < '0' || text[i] > '9') return std::nullopt;  // no sign, no space
            value = value * 10 + (text[i] - '0');
        }
        return value;
    };
    auto y = number(0, 4), m = number(5, 2), d = number(8, 2);
    if (!y || !m || !d) return std::nullopt;
    Date date{std::chrono::year{*y}, std::chrono::month{static_cast<unsigned>(*m)},
              std::chrono::day{static_cast<unsigned>(*d)}};
    if (!date_in_range(date)) return std::nullopt;
    return date;
}

/// Throws InvalidDate unless `eta` is empty (warehouse stock) or a date_in_range.
inline void check_eta(const std::optional<Date>& eta) {
    if (eta && !date_in_range(*eta)) {
        throw InvalidDate("Invalid eta " + detail::date_text(*eta) + ": an eta must be a real day of the years " +
                          std::to_string(min_year) + " to " + std::to_string(max_year));
    }
}

}  // namespace allocation
