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
