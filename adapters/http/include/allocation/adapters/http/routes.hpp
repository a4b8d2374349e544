// The HTTP API's routes: the book's Flask app as a function from a request to a response, over a message bus
// and the read model. No sockets here: the server hands requests in, and the tests call it directly.
#pragma once

#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "allocation/adapters/http/log.hpp"
#include "allocation/adapters/http/metrics.hpp"
#include "allocation/adapters/http/requests.hpp"
#include "allocation/adapters/http/server.hpp"
#include "allocation/allocation.hpp"

namespace allocation::http {

/// Decodes %XX escapes in a URL path; nothing when an escape is malformed. '+' stays '+' (it means a space
/// only in query strings).
inline std::optional<std::string> percent_decode(std::string_view text) {
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

namespace detail {

inline Response json_response(int status, const nlohmann::json& body, std::string_view route) {
    return {status, to_text(body), route};
}

inline Response message_response(int status, std::string_view message, std::string_view route) {
    return json_response(status, nlohmann::json{{"message", message}}, route);
}

}  // namespace detail

/// The routes of the service. `bus`, `view`, `uow_factory` and `metrics` must outlive it; `handle` may be
/// called from several threads at once (the bus, the view and the factory allow it).
template <typename Bus, ports::AllocationsView View, ports::UnitOfWorkFactory Factory>
class Routes {
public:
    Routes(Bus& bus, const View& view, Factory& uow_factory, Metrics& metrics, Log log = {})
        : bus_(bus), view_(view), uow_factory_(uow_factory), metrics_(metrics), log_(std::move(log)) {}

    /// A read of the allocations view: it never waits for the writer, so the server answers it on its I/O thread.
    static bool answers_inline(const Request& request) {
        return request.method == "GET" && std::string_view(request.target).starts_with(query_routes[0].path_or_prefix);
    }

    Response handle(const Request& request) const {
        const std::string_view target = request.target;
        const auto path = percent_decode(target.substr(0, target.find('?')));
        if (!path) return detail::message_response(400, "Malformed percent-encoding in the URL path", "other");
        const std::string_view method = request.method;
        if (auto route = command_route(*path)) {
            if (method != "POST") return not_allowed(method, *path, "POST");
            return (this->*route->handler)(request.body);
        }
        for (const auto& [prefix, handler, name] : query_routes) {
            if (path->size() > prefix.size() && path->starts_with(prefix)) {
                if (method != "GET") return not_allowed(method, *path, "GET");
                return (this->*handler)(path->substr(prefix.size()));
            }
        }
        return detail::message_response(404, fmt::format("No route for {} {}", method, *path), "other");
    }

private:
    using Handler = Response (Routes::*)(std::string_view) const;
    struct Route {
        std::string_view path_or_prefix;
        Handler handler;
        std::string_view name;
    };

    static std::optional<Route> command_route(std::string_view path) {
        for (const auto& route : command_routes) {
            if (route.path_or_prefix == path) return route;
        }
        return std::nullopt;
    }

    static Response not_allowed(std::string_view method, std::string_view path, std::string_view allowed) {
        return detail::message_response(405, fmt::format("{} {} is not allowed; use {}", method, path, allowed),
                                        "other");
    }

    Response add_batch(std::string_view body) const {
        return run_command("CreateBatch", "add_batch", [&] {
            auto cmd = parse_create_batch(parse_body(body));
            bus_.handle(cmd);
            return detail::json_response(201, {{"ref", cmd.ref}}, "add_batch");
        });
    }

    // Out of stock is not an error of the request: it is accepted, the stock team is notified, and the answer
    // says that no batch took the line.
    Response allocate(std::string_view body) const {
        return run_command("Allocate", "allocate", [&] {
            auto cmd = parse_allocate(parse_body(body));
            std::optional<std::string> batchref = bus_.handle(cmd);
            return detail::json_response(
                202, {{"batchref", batchref ? nlohmann::json(*batchref) : nlohmann::json(nullptr)}}, "allocate");
        });
    }

    Response change_batch_quantity(std::string_view body) const {
        return run_command("ChangeBatchQuantity", "change_batch_quantity", [&] {
            auto cmd = parse_change_batch_quantity(parse_body(body));
            bus_.handle(cmd);
            return detail::json_response(200, {{"batchref", cmd.ref}, {"qty", cmd.qty}}, "change_batch_quantity");
        });
    }

    // Ids may contain "/" (sent as %2F or as it is): the rest of the path is the id.
    Response allocations(std::string_view orderid) const {
        return guarded("allocations", [&] {
            check_id("order id", orderid);
            auto rows = views::allocations(orderid, view_);
            if (rows.empty()) throw BadRequest("No allocations for order " + std::string(orderid), 404);
            nlohmann::json body = nlohmann::json::array();
            for (const auto& row : rows) body.push_back({{"sku", row.sku}, {"batchref", row.batchref}});
            return detail::json_response(200, body, "allocations");
        });
    }

    Response product(std::string_view sku) const {
        return guarded("products", [&] {
            check_id("SKU", sku);
            auto stock = views::product(sku, uow_factory_);
            if (!stock) throw BadRequest("Invalid sku " + std::string(sku), 404);
            return detail::json_response(200, product_json(*stock), "products");
        });
    }

    // An id the domain could never have stored is the caller's mistake (a 400), not an unknown one (a 404).
    static void check_id(std::string_view what, std::string_view id) {
        if (auto problem = id_problem(id)) throw BadRequest(fmt::format("The {} in the URL {}", what, *problem));
    }

    static nlohmann::json product_json(const views::ProductStock& stock) {
        nlohmann::json batches = nlohmann::json::array();
        for (const views::BatchStock& batch : stock.batches) {
            batches.push_back({{"ref", batch.ref},
                               {"eta", batch.eta ? nlohmann::json(to_string(*batch.eta)) : nlohmann::json()},
                               {"purchased", batch.purchased},
                               {"allocated", batch.allocated},
                               {"available", batch.available}});
        }
        nlohmann::json waiting = nlohmann::json::array();
        for (const views::WaitingLine& line : stock.waiting) waiting.push_back({{"orderid", line.orderid}, {"qty", line.qty}});
        return {{"sku", stock.sku},
                {"version", stock.version},
                {"batches", std::move(batches)},
                {"waiting", std::move(waiting)}};
    }

    template <typename Fn>
    Response run_command(std::string_view command, std::string_view route, Fn&& fn) const {
        std::string_view outcome = "ok";
        Response response = guarded(route, std::forward<Fn>(fn), &outcome);
        metrics_.command(command, outcome);
        return response;
    }

    /// Runs one route; every failure becomes a JSON answer with a message. Input the service rejects is a 4xx
    /// ("rejected"); a 5xx only ever means the service itself failed ("failed"), and is logged.
    template <typename Fn>
    Response guarded(std::string_view route, Fn&& fn, std::string_view* outcome = nullptr) const {
        auto fail = [&](int status, std::string_view message) {
            if (outcome != nullptr) *outcome = status >= 500 ? "failed" : "rejected";
            return detail::message_response(status, message, route);
        };
        try {
            return fn();
        } catch (const BadRequest& e) {
            return fail(e.status(), e.what());
        } catch (const DuplicateBatch& e) {
            return fail(409, e.what());
        } catch (const ConcurrencyError& e) {
            return fail(409, std::string(e.what()) + "; try again");
        } catch (const StorageError& e) {
            log_.line(fmt::format("storage error: {}", e.what()));
            return fail(503, "Storage unavailable");
        } catch (const Error& e) {  // InvalidSku, UnknownBatch, InvalidQuantity: the caller's input
            return fail(400, e.what());
        } catch (const std::exception& e) {
            log_.line(fmt::format("internal error: {}", e.what()));
            return fail(500, "Internal error");
        }
    }

    static constexpr Route command_routes[] = {
        {"/add_batch", &Routes::add_batch, "add_batch"},
        {"/allocate", &Routes::allocate, "allocate"},
        {"/change_batch_quantity", &Routes::change_batch_quantity, "change_batch_quantity"},
    };
    static constexpr Route query_routes[] = {
        {"/allocations/", &Routes::allocations, "allocations"},
        {"/products/", &Routes::product, "products"},
    };

    Bus& bus_;
    const View& view_;
    Factory& uow_factory_;
    Metrics& metrics_;
    Log log_;
};

}  // namespace allocation::http
