// The book's JSON for events: the one serialisation, used by the outbox's payloads and the Redis channels, and its
// reader, for the payloads a storage gives back. A form for transports and storages, so it lives outside the
// domain, once, beside the core that every adapter shares.
#pragma once

#include <charconv>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <variant>

#include <fmt/format.h>

#include "allocation/domain/errors.hpp"
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

namespace detail {
/// Reads what JsonObject writes: one flat object whose members are strings or integers. Throws allocation::Error
/// naming what is wrong; it never reads past the text.
class FlatJsonReader {
public:
    using Value = std::variant<std::string, std::int64_t>;

    explicit FlatJsonReader(std::string_view text) : text_(text) {}

    std::map<std::string, Value, std::less<>> members() {
        std::map<std::string, Value, std::less<>> result;
        expect('{');
        if (!take('}')) {
            do {
                std::string name = string();
                expect(':');
                result.insert_or_assign(std::move(name), value());
            } while (take(','));
            expect('}');
        }
        skip_space();
        if (at_ != text_.size()) fail("text after the object");
        return result;
    }

private:
    [[noreturn]] void fail(std::string_view what) const {
        throw Error(fmt::format("malformed event JSON at byte {}: {}", at_, what));
    }
    void skip_space() {
        while (at_ < text_.size() && (text_[at_] == ' ' || text_[at_] == '\n' || text_[at_] == '\t' || text_[at_] == '\r')) ++at_;
    }
    bool take(char c) {
        skip_space();
        if (at_ < text_.size() && text_[at_] == c) return ++at_, true;
        return false;
    }
    void expect(char c) {
        if (!take(c)) fail(fmt::format("'{}' expected", c));
    }
    Value value() {
        skip_space();
        if (at_ < text_.size() && text_[at_] == '"') return string();
        std::int64_t number = 0;
        auto [end, ec] = std::from_chars(text_.data() + at_, text_.data() + text_.size(), number);
        if (ec != std::errc{}) fail("a string or an integer expected");
        at_ = static_cast<std::size_t>(end - text_.data());
        return number;
    }
    std::string string() {
        expect('"');
        std::string out;
        while (at_ < text_.size() && text_[at_] != '"') {
            const char c = text_[at_++];
            if (c != '\\') {
                out += c;
            } else {
                out += escaped();
            }
        }
        expect('"');
        return out;
    }
    // The character after a backslash: what append_json_string writes (\u only below 0x20).
    char escaped() {
        if (at_ >= text_.size()) fail("unfinished escape");
        switch (const char c = text_[at_++]) {
            case '"': case '\\': case '/': return c;
            case 'b': return '\b';
            case 'f': return '\f';
            case 'n': return '\n';
            case 'r': return '\r';
            case 't': return '\t';
            case 'u': {
                unsigned code = 0;
                if (text_.size() - at_ < 4) fail("unfinished \\u escape");
                auto [end, ec] = std::from_chars(text_.data() + at_, text_.data() + at_ + 4, code, 16);
                if (ec != std::errc{} || end != text_.data() + at_ + 4 || code >= 0x80) fail("unsupported \\u escape");
                at_ += 4;
                return static_cast<char>(code);
            }
            default: fail("unknown escape");
        }
    }

    std::string_view text_;
    std::size_t at_ = 0;
};

template <typename T>
T json_member(const std::map<std::string, FlatJsonReader::Value, std::less<>>& members, std::string_view name) {
    auto found = members.find(name);
    if (found == members.end() || !std::holds_alternative<T>(found->second)) {
        throw Error(fmt::format("event JSON without a {} member '{}'",
                                std::is_same_v<T, std::string> ? "string" : "integer", name));
    }
    return std::get<T>(found->second);
}
}  // namespace detail

/// The event of type `type` ("Allocated", "Deallocated", "OutOfStock") that `payload`, written by to_json, holds.
/// Throws allocation::Error naming what is wrong (an unknown type, malformed JSON, a missing member).
inline events::Event event_from_json(std::string_view type, std::string_view payload) {
    const auto members = detail::FlatJsonReader(payload).members();
    auto text = [&](std::string_view name) { return detail::json_member<std::string>(members, name); };
    auto qty = [&] {
        const auto value = detail::json_member<std::int64_t>(members, "qty");
        if (value < std::numeric_limits<int>::min() || value > std::numeric_limits<int>::max()) throw Error("event JSON with a qty out of range");
        return static_cast<int>(value);
    };
    if (type == "Allocated") return events::Allocated{text("orderid"), text("sku"), qty(), text("batchref")};
    if (type == "Deallocated") return events::Deallocated{text("orderid"), text("sku"), qty()};
    if (type == "OutOfStock") return events::OutOfStock{text("sku")};
    throw Error(fmt::format("unknown event type '{}'", type));
}

}  // namespace allocation
