// The HTTP entrypoint: the book's Flask app as cpp-httplib routes over a message bus and the read model.
#pragma once

#include <chrono>
#include <exception>
#include <functional>
#include <string>
#include <utility>

#include <fmt/format.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "allocation/allocation.hpp"
#include "logging.hpp"
#include "requests.hpp"

namespace allocation::service {

namespace detail {

inline void reply(httplib::Response& res, int status, const nlohmann::json& body) {
    res.status = status;
    res.set_content(to_text(body), "application/json");
}

inline void reply_message(httplib::Response& res, int status, std::string_view message) {
    reply(res, status, nlohmann::json{{"message", message}});
}

/// Runs one route; every failure becomes a JSON answer with a message. Input the service rejects is a 4xx;
/// a 5xx only ever means the service itself failed.
template <typename Fn>
void guarded(httplib::Response& res, Fn&& fn) {
    try {
        fn();
    } catch (const BadRequest& e) {
        reply_message(res, e.status(), e.what());
    } catch (const DuplicateBatch& e) {
        reply_message(res, 409, e.what());
    } catch (const ConcurrencyError& e) {
        reply_message(res, 409, std::string(e.what()) + "; try again");
    } catch (const StorageError& e) {
        log_line(fmt::format("storage error: {}", e.what()));
        reply_message(res, 503, "Storage unavailable");
    } catch (const Error& e) {  // InvalidSku, UnknownBatch, InvalidQuantity: the caller's input
        reply_message(res, 400, e.what());
    } catch (const std::exception& e) {
        log_line(fmt::format("internal error: {}", e.what()));
        reply_message(res, 500, "Internal error");
    }
}

inline thread_local std::chrono::steady_clock::time_point request_started{};

}  // namespace detail

/// Extra state shown by GET /health.
using HealthProbe = std::function<void(nlohmann::json& health)>;

/// Registers the routes and the per-request log on `server`. `bus`, `view` and `uow_factory` must outlive it.
/// The factory serves GET /products/<sku>, which reads the write model through a unit of work of its own.
template <typename Bus, ports::AllocationsView View, ports::UnitOfWorkFactory Factory>
void register_routes(httplib::Server& server, Bus& bus, const View& view, Factory& uow_factory,
                     HealthProbe health_probe = {}) {
    using httplib::Request;
    using httplib::Response;

    server.Post("/add_batch", [&bus](const Request& req, Response& res) {
        detail::guarded(res, [&] {
            auto cmd = parse_create_batch(parse_body(req.body));
            bus.handle(cmd);
            detail::reply(res, 201, {{"ref", cmd.ref}});
        });
    });

    server.Post("/allocate", [&bus](const Request& req, Response& res) {
        detail::guarded(res, [&] {
            auto cmd = parse_allocate(parse_body(req.body));
            std::optional<std::string> batchref = bus.handle(cmd);
            // Out of stock is not an error of the request: it is accepted, the stock team is notified, and
            // the answer says that no batch took the line.
            detail::reply(res, 202, {{"batchref", batchref ? nlohmann::json(*batchref) : nlohmann::json(nullptr)}});
        });
    });

    server.Post("/change_batch_quantity", [&bus](const Request& req, Response& res) {
        detail::guarded(res, [&] {
            auto cmd = parse_change_batch_quantity(parse_body(req.body));
            bus.handle(cmd);
            detail::reply(res, 200, {{"batchref", cmd.ref}, {"qty", cmd.qty}});
        });
    });

    // Ids may contain "/" (sent as %2F, which httplib decodes before matching): the rest of the path is the id.
    server.Get(R"(/allocations/(.+))", [&view](const Request& req, Response& res) {
        detail::guarded(res, [&] {
            const std::string orderid = req.matches[1];
            auto rows = views::allocations(orderid, view);
            if (rows.empty()) throw BadRequest("No allocations for order " + orderid, 404);
            nlohmann::json body = nlohmann::json::array();
            for (const auto& row : rows) body.push_back({{"sku", row.sku}, {"batchref", row.batchref}});
            detail::reply(res, 200, body);
        });
    });

    server.Get(R"(/products/(.+))", [&uow_factory](const Request& req, Response& res) {
        detail::guarded(res, [&] {
            const std::string sku = req.matches[1];
            nlohmann::json body;
            {
                auto uow = uow_factory();
                const Product* product = uow.products().get(sku);
                if (product == nullptr) throw BadRequest("Invalid sku " + sku, 404);
                nlohmann::json batches = nlohmann::json::array();
                for (const Batch& batch : product->batches()) {
                    batches.push_back({{"ref", batch.reference()},
                                       {"eta", batch.eta() ? nlohmann::json(to_string(*batch.eta())) : nlohmann::json()},
                                       {"purchased", batch.purchased_quantity()},
                                       {"allocated", batch.allocated_quantity()},
                                       {"available", batch.available_quantity()}});
                }
                body = {{"sku", product->sku()}, {"version", product->version_number()}, {"batches", std::move(batches)}};
            }  // nothing was changed: leaving the scope rolls back the read
            detail::reply(res, 200, body);
        });
    });

    server.Get("/health", [health_probe](const Request&, Response& res) {
        detail::guarded(res, [&] {
            nlohmann::json body = {{"status", "ok"}};
            if (health_probe) health_probe(body);
            detail::reply(res, 200, body);
        });
    });

    // Answers that httplib makes itself (unknown route 404, body too large 413, unreadable request 400) get a
    // JSON message too.
    server.set_error_handler(httplib::Server::HandlerWithResponse([](const Request& req, Response& res) {
        if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
        switch (res.status) {
        case 404: detail::reply_message(res, 404, "No route for " + req.method + " " + req.path); break;
        case 413:
            detail::reply_message(res, 413, fmt::format("The body is larger than {} bytes", max_body_bytes));
            break;
        case 400: detail::reply_message(res, 400, "Malformed HTTP request"); break;
        default: detail::reply_message(res, res.status, fmt::format("Request failed with status {}", res.status)); break;
        }
        return httplib::Server::HandlerResponse::Handled;
    }));

    server.set_exception_handler([](const Request&, Response& res, std::exception_ptr) {
        detail::reply_message(res, 500, "Internal error");
    });

    server.set_payload_max_length(max_body_bytes);

    server.set_pre_routing_handler([](const Request&, Response&) -> httplib::Server::HandlerResponse {
        detail::request_started = std::chrono::steady_clock::now();
        return httplib::Server::HandlerResponse::Unhandled;
    });

    server.set_logger([](const Request& req, const Response& res) {
        auto started = std::exchange(detail::request_started, {});
        double ms = started == std::chrono::steady_clock::time_point{}
                        ? 0.0
                        : std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
        log_line(fmt::format("{} {} {} {:.3f}ms", req.method, req.path, res.status, ms));
    });
}

}  // namespace allocation::service
