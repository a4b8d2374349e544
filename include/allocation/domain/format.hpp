// Text forms of domain values: ISO dates, and fmt formatters for lines, commands and events.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include <fmt/format.h>

#include "allocation/domain/commands.hpp"
#include "allocation/domain/events.hpp"
#include "allocation/domain/model.hpp"

namespace allocation {

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

namespace detail {
inline std::string eta_text(const std::optional<Date>& eta) { return eta ? to_string(*eta) : "warehouse"; }
}  // namespace detail

}  // namespace allocation

template <>
struct fmt::formatter<allocation::OrderLine> : fmt::formatter<std::string_view> {
    auto format(const allocation::OrderLine& l, fmt::format_context& ctx) const {
        return fmt::format_to(ctx.out(), "OrderLine({}, {}, {})", l.orderid, l.sku, l.qty);
    }
};
template <>
struct fmt::formatter<allocation::commands::Allocate> : fmt::formatter<std::string_view> {
    auto format(const allocation::commands::Allocate& c, fmt::format_context& ctx) const {
        return fmt::format_to(ctx.out(), "Allocate(orderid={}, sku={}, qty={})", c.orderid, c.sku, c.qty);
    }
};
template <>
struct fmt::formatter<allocation::commands::CreateBatch> : fmt::formatter<std::string_view> {
    auto format(const allocation::commands::CreateBatch& c, fmt::format_context& ctx) const {
        return fmt::format_to(ctx.out(), "CreateBatch(ref={}, sku={}, qty={}, eta={})", c.ref, c.sku, c.qty,
                              allocation::detail::eta_text(c.eta));
    }
};
template <>
struct fmt::formatter<allocation::commands::ChangeBatchQuantity> : fmt::formatter<std::string_view> {
    auto format(const allocation::commands::ChangeBatchQuantity& c, fmt::format_context& ctx) const {
        if (!c.message_id) return fmt::format_to(ctx.out(), "ChangeBatchQuantity(ref={}, qty={})", c.ref, c.qty);
        return fmt::format_to(ctx.out(), "ChangeBatchQuantity(ref={}, qty={}, message_id={})", c.ref, c.qty,
                              *c.message_id);
    }
};
template <>
struct fmt::formatter<allocation::events::Allocated> : fmt::formatter<std::string_view> {
    auto format(const allocation::events::Allocated& e, fmt::format_context& ctx) const {
        return fmt::format_to(ctx.out(), "Allocated(orderid={}, sku={}, qty={}, batchref={})", e.orderid, e.sku,
                              e.qty, e.batchref);
    }
};
template <>
struct fmt::formatter<allocation::events::Deallocated> : fmt::formatter<std::string_view> {
    auto format(const allocation::events::Deallocated& e, fmt::format_context& ctx) const {
        return fmt::format_to(ctx.out(), "Deallocated(orderid={}, sku={}, qty={})", e.orderid, e.sku, e.qty);
    }
};
template <>
struct fmt::formatter<allocation::events::OutOfStock> : fmt::formatter<std::string_view> {
    auto format(const allocation::events::OutOfStock& e, fmt::format_context& ctx) const {
        return fmt::format_to(ctx.out(), "OutOfStock(sku={})", e.sku);
    }
};

namespace allocation::detail {
/// Formats any variant of formattable message types by formatting whichever alternative it holds.
template <typename Variant>
struct VariantFormatter : fmt::formatter<std::string_view> {
    auto format(const Variant& v, fmt::format_context& ctx) const {
        return std::visit([&](const auto& m) { return fmt::format_to(ctx.out(), "{}", m); }, v);
    }
};
}  // namespace allocation::detail

template <>
struct fmt::formatter<allocation::events::Event> : allocation::detail::VariantFormatter<allocation::events::Event> {};
template <>
struct fmt::formatter<allocation::commands::Command>
    : allocation::detail::VariantFormatter<allocation::commands::Command> {};
