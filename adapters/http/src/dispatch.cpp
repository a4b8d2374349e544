// Which route answers a request and where it runs: the server's own routes (/health, /ready, /metrics) and the
// application's in one table, a handler on the I/O thread or on the bounded worker pool, 503 when that is full.
#include <exception>
#include <string>

#include <fmt/format.h>

#include "server_impl.hpp"
#include "session.hpp"

namespace allocation::http {

namespace {

Response ready_as_configured(const Application& app) {
    if (app.ready) return app.ready();
    return {200, R"({"status":"ready"})", "ready"};
}

}  // namespace

// /health and /metrics answer from the first moment, on the I/O thread, so that they answer even when every worker
// is busy. /ready says "starting" until the application is served, then asks it on a worker, and says "draining"
// from the drain on.
std::vector<Route> Server::Impl::own_routes() const {
    std::vector<Route> own;
    own.push_back({"GET", "/health", "health", Runs::on_io_thread,
                   [](const Request&) { return Response{200, R"({"status":"ok"})", "health"}; }});
    own.push_back({"GET", "/metrics", "metrics", Runs::on_io_thread, [this](const Request&) {
                       return Response{200, metrics.exposition(pool.queued()), "metrics",
                                       "text/plain; version=0.0.4; charset=utf-8"};
                   }});
    if (is_draining.load()) {
        own.push_back({"GET", "/ready", "ready", Runs::on_io_thread,
                       [](const Request&) { return Response{503, R"({"status":"draining"})", "ready"}; }});
    } else if (!app) {
        own.push_back({"GET", "/ready", "ready", Runs::on_io_thread,
                       [](const Request&) { return Response{503, R"({"status":"starting"})", "ready"}; }});
    } else {
        own.push_back({"GET", "/ready", "ready", Runs::on_worker,
                       [served = &*app](const Request&) { return ready_as_configured(*served); }});
    }
    return own;
}

void Server::Impl::publish_routes() {
    std::lock_guard lock(routes_mutex);
    std::vector<Route> all = own_routes();
    if (app) all.insert(all.end(), app->routes.begin(), app->routes.end());
    tables.push_back(std::make_unique<const RouteTable>(RouteTable{Router(std::move(all)), app.has_value()}));
    routes.store(tables.back().get(), std::memory_order_release);
}

void Server::Impl::dispatch(Request request, const std::shared_ptr<Session>& session) {
    const RouteTable& table = *routes.load(std::memory_order_acquire);
    const Route* route = table.router.route(request);
    if (route == nullptr) {
        if (!table.serving) {
            return session->respond({503, message_body("The service is starting; try again"), "other", {}, 1});
        }
        return session->respond(table.router.unmatched(request));
    }
    if (route->runs == Runs::on_io_thread) return session->respond(guarded(*route, request));
    auto task = [this, route, session, request = std::move(request)]() {
        Response response = guarded(*route, request);
        asio::post(session->executor(),
                   [session, response = std::move(response)]() mutable { session->respond(std::move(response)); });
    };
    if (!pool.try_submit(std::move(task))) {
        session->respond({503, message_body("The server is busy; try again"), route->name, {}, 1});
    }
}

// A route must not throw; if it does anyway, the client gets a 500 and the log says why.
Response Server::Impl::guarded(const Route& route, const Request& request) const noexcept {
    try {
        return route.handle(request);
    } catch (const std::exception& error) {
        options.log.line(fmt::format("internal error: {}", error.what()));
    } catch (...) {
        options.log.line("internal error: an unknown exception");
    }
    return {500, message_body("Internal error"), route.name};
}

}  // namespace allocation::http
