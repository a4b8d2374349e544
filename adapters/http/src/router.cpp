// The route table's matching, and the answers to what no route takes.
#include "allocation/adapters/http/router.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "allocation/adapters/http/requests.hpp"

namespace allocation::http {

std::optional<std::string> percent_decode(std::string_view text) {
    auto hex = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '%') {
            out.push_back(text[i]);
            continue;
        }
        if (i + 2 >= text.size()) return std::nullopt;
        const int high = hex(text[i + 1]), low = hex(text[i + 2]);
        if (high < 0 || low < 0) return std::nullopt;
        out.push_back(static_cast<char>(high * 16 + low));
        i += 2;
    }
    return out;
}

std::string message_body(std::string_view message) { return to_text(nlohmann::json{{"message", message}}); }

std::optional<std::string> target_path(std::string_view target) {
    target = target.substr(0, target.find('?'));
    const auto scheme_end = target.find("://");
    if (!target.starts_with('/') && scheme_end != std::string_view::npos) {
        const auto path_start = target.find('/', scheme_end + 3);
        target = path_start == std::string_view::npos ? "/" : target.substr(path_start);
    }
    return percent_decode(target);
}

bool Router::path_matches(const Route& route, std::string_view path) {
    if (!route.path.ends_with('/')) return path == route.path;
    return path.size() > route.path.size() && path.starts_with(route.path);
}

const Route* Router::route(Request& request) const {
    auto path = target_path(request.target);
    if (!path) return nullptr;
    request.path = std::move(*path);
    // HEAD is answered by the GET route, whose answer the server sends without its body.
    const std::string_view method = request.method == "HEAD" ? std::string_view("GET") : request.method;
    for (const Route& candidate : routes_) {
        if (candidate.method == method && path_matches(candidate, request.path)) return &candidate;
    }
    return nullptr;
}

Response Router::unmatched(const Request& request) const {
    const auto path = target_path(request.target);
    if (!path) return {400, message_body("Malformed percent-encoding in the URL path")};
    for (const Route& candidate : routes_) {
        if (path_matches(candidate, *path)) {
            return {405, message_body(fmt::format("{} {} is not allowed; use {}", request.method, *path,
                                                  candidate.method))};
        }
    }
    return {404, message_body(fmt::format("No route for {} {}", request.method, *path))};
}

}  // namespace allocation::http
