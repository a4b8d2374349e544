// Text forms of domain values for people: fmt formatters for lines, commands and events, as log and error lines
// show them. Outside the domain, which only defines the values; shared by the service layer and every adapter.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include <fmt/format.h>

#include "allocation/domain/commands.hpp"
#include "allocation/domain/events.hpp"
#include "allocation/domain/order_line.hpp"
#include "allocation/domain/rules.hpp"

namespace allocation::detail {
inline std::string eta_text(const std::optional<Date>& eta) { return eta ? to_string(*eta) : "warehouse"; }
}  // namespace allocation::detail

namespace allocation::detail {
// The text of each value, written to a formatter's output.
using TextOut = fmt::format_context::iterator;
inline TextOut write_text(TextOut out, const OrderLine& l) {
    return fmt::format_to(out, "OrderLine({}, {}, {})", l.orderid, l.sku, l.qty);
}
inline TextOut write_text(TextOut out, const commands::Allocate& c) {
    return fmt::format_to(out, "Allocate(orderid={}, sku={}, qty={})", c.orderid, c.sku, c.qty);
}
inline TextOut write_text(TextOut out, const commands::CreateBatch& c) {
    return fmt::format_to(out, "CreateBatch(ref={}, sku={}, qty={}, eta={})", c.ref, c.sku, c.qty, eta_text(c.eta));
}
inline TextOut write_text(TextOut out, const commands::ChangeBatchQuantity& c) {
    if (!c.message_id) return fmt::format_to(out, "ChangeBatchQuantity(ref={}, qty={})", c.ref, c.qty);
    return fmt::format_to(out, "ChangeBatchQuantity(ref={}, qty={}, message_id={})", c.ref, c.qty, *c.message_id);
}
inline TextOut write_text(TextOut out, const events::Allocated& e) {
    return fmt::format_to(out, "Allocated(orderid={}, sku={}, qty={}, batchref={})", e.orderid, e.sku, e.qty,
                          e.batchref);
}
inline TextOut write_text(TextOut out, const events::Deallocated& e) {
    return fmt::format_to(out, "Deallocated(orderid={}, sku={}, qty={})", e.orderid, e.sku, e.qty);
}
inline TextOut write_text(TextOut out, const events::OutOfStock& e) {
    return fmt::format_to(out, "OutOfStock(sku={})", e.sku);
}

/// The domain values that have a text form (a write_text above).
template <typename T>
concept HasTextForm = requires(TextOut out, const T& value) { write_text(out, value); };
}  // namespace allocation::detail

/// One formatter for every domain value with a text form.
template <allocation::detail::HasTextForm T>
struct fmt::formatter<T> : fmt::formatter<std::string_view> {
    auto format(const T& value, fmt::format_context& ctx) const {
        return allocation::detail::write_text(ctx.out(), value);
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
