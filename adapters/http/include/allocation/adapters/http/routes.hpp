// The HTTP API's routes: the book's Flask app as a table of routes over any message bus and read model. No
// sockets here: a Server serves the table, and anything else may call its handlers directly.
#pragma once

#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "allocation/adapters/http/log.hpp"
#include "allocation/adapters/http/metrics.hpp"
#include "allocation/adapters/http/requests.hpp"
#include "allocation/adapters/http/router.hpp"
#include "allocation/allocation.hpp"

namespace allocation::http {

namespace detail {

inline Response json_response(int status, const nlohmann::json& body, std::string_view route) {
    return {status, to_text(body), route};
}

inline Response message_response(int status, std::string_view message, std::string_view route) {
    return json_response(status, nlohmann::json{{"message", message}}, route);
}

}  // namespace detail

/// The book's HTTP API over any bus: `Bus` is whatever `bootstrap` composed (or anything whose `handle` takes the
/// three commands, the Allocate one answering the batch reference or nothing). `bus`, `view`, `uow_factory` and
/// `metrics` must outlive it; its routes may run on several threads at once (the bus, the view and the factory
/// allow it).
template <typename Bus, ports::AllocationsView View, ports::UnitOfWorkFactory Factory>
class Routes {
    using Handler = Response (Routes::*)(std::string_view) const;

public:
    Routes(Bus& bus, const View& view, Factory& uow_factory, Metrics& metrics, Log log = {})
        : bus_(bus), view_(view), uow_factory_(uow_factory), metrics_(metrics), log_(std::move(log)) {}

    /// The book's routes, to hand to a Server (Application::routes). They refer to this object, which must outlive
    /// them. A read of the allocations view never waits for the writer: it is answered on the I/O thread.
    std::vector<Route> table() const {
        auto command = [this](std::string path, std::string_view name, Handler handler) {
            return Route{"POST", std::move(path), name, Runs::on_worker,
                         [this, handler](const Request& request) { return (this->*handler)(request.body); }};
        };
        auto query = [this](std::string prefix, std::string_view name, Runs runs, Handler handler) {
            const std::size_t skip = prefix.size();
            return Route{"GET", std::move(prefix), name, runs, [this, handler, skip](const Request& request) {
                             return (this->*handler)(std::string_view(request.path).substr(skip));
                         }};
        };
        return {command("/add_batch", "add_batch", &Routes::add_batch),
                command("/allocate", "allocate", &Routes::allocate),
                command("/change_batch_quantity", "change_batch_quantity", &Routes::change_batch_quantity),
                query("/allocations/", "allocations", Runs::on_io_thread, &Routes::allocations),
                query("/products/", "products", Runs::on_worker, &Routes::product)};
    }

private:
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

    Bus& bus_;
    const View& view_;
    Factory& uow_factory_;
    Metrics& metrics_;
    Log log_;
};

}  // namespace allocation::http
