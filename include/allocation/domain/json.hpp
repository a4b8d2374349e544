// The book's JSON for events: the one serialisation, used by the outbox's payloads and the Redis channels.
#pragma once

#include <string>
#include <string_view>
#include <type_traits>
#include <variant>

#include <fmt/format.h>

#include "allocation/domain/events.hpp"

namespace allocation {

namespace detail {
/// Appends `text` as a JSON string (quoted, with `"`, `\` and control characters escaped; UTF-8 kept as it is).
inline void append_json_string(std::string& out, std::string_view text) {
    out += '"';
    for (const char c : text) {
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\b': out += "\\b"; break;
            case '\f': out += "\\f"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                if (static_cast<unsigned char>(c) < 0x20) {
                    out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
                } else {
                    out += c;
                }
        }
    }
    out += '"';
}

/// Builds one flat JSON object, member by member, in the order they are added.
class JsonObject {
public:
    JsonObject& add(std::string_view name, std::string_view value) {
        key(name);
        append_json_string(text_, value);
        return *this;
    }
    JsonObject& add(std::string_view name, int value) {
        key(name);
        text_ += std::to_string(value);
        return *this;
    }
    std::string done() && { return std::move(text_) + '}'; }

private:
    void key(std::string_view name) {
        text_ += text_.size() == 1 ? "" : ",";
        append_json_string(text_, name);
        text_ += ':';
    }
    std::string text_ = "{";
};
}  // namespace detail

/// The book's JSON for an event, members in the order the book's dataclasses declare them: Allocated is
/// {"orderid","sku","qty","batchref"}, Deallocated {"orderid","sku","qty"}, OutOfStock {"sku"}.
inline std::string to_json(const events::Event& event) {
    return std::visit(
        [](const auto& e) {
            using E = std::decay_t<decltype(e)>;
            detail::JsonObject json;
            if constexpr (std::is_same_v<E, events::Allocated>) {
                json.add("orderid", e.orderid).add("sku", e.sku).add("qty", e.qty).add("batchref", e.batchref);
            } else if constexpr (std::is_same_v<E, events::Deallocated>) {
                json.add("orderid", e.orderid).add("sku", e.sku).add("qty", e.qty);
            } else {
                json.add("sku", e.sku);
            }
            return std::move(json).done();
        },
        event);
}

}  // namespace allocation
