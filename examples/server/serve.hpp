// Serving on one storage: the bus over it, the delivery of its outbox, the consumers, and the HTTP adapter, as
// components started in that order and stopped in reverse once the server has drained.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <exception>
#include <functional>
#include <string>
#include <string_view>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "allocation/adapters/http/routes.hpp"
#include "allocation/allocation.hpp"
#include "components.hpp"
#include "delivery.hpp"
#include "logging.hpp"
#include "parts.hpp"

namespace allocation::service {

/// The HTTP adapter's lines go to the service's log (logging.hpp), the request lines buffered.
inline http::Log service_log() { return {log_line, log_request}; }

inline BusOptions bus_options(http::Metrics& metrics) {
    BusOptions options;
    options.max_attempts = 10;
    options.on_error = [&metrics](const events::Event& event, std::string_view handler, const std::exception& error) {
        metrics.handler_failure();
        log_line(fmt::format("handler {} failed on {}: {}", handler, event, error.what()));
    };
    options.on_retry = [&metrics] { metrics.concurrency_retry(); };
    return options;
}

/// The outbox's backlog for /metrics and /ready: undelivered rows, and the oldest one's age in seconds.
template <typename Outbox>
std::pair<std::size_t, double> backlog_of(const Outbox& outbox) {
    const ports::OutboxBacklog backlog = outbox.backlog();
    const auto age = backlog.oldest ? ports::OutboxClock::now() - *backlog.oldest : ports::OutboxClock::duration{};
    return {backlog.undelivered, std::max(0.0, std::chrono::duration<double>(age).count())};
}

/// The relay's maintenance: purges the delivered outbox rows and the processed message ids older than `retention`.
template <typename Outbox, typename Factory>
std::function<void()> purge_older_than(std::chrono::milliseconds retention, Outbox& outbox, Factory uow_factory) {
    return [&outbox, uow_factory, retention]() mutable {
        const Purged purged = purge(outbox, uow_factory, ports::OutboxClock::now() - retention);
        if (purged.outbox_rows + purged.message_ids == 0) return;
        log_line(fmt::format("purged {} delivered outbox rows and {} processed message ids older than {:g} s",
                             purged.outbox_rows, purged.message_ids, std::chrono::duration<double>(retention).count()));
    };
}

/// The storage, opened already: for /ready, 200 while the database answers a query, with the outbox's backlog,
/// which never makes the service unready by itself; for /metrics, the backlog while it serves.
template <typename Outbox, typename CheckStorage>
Component storage_component(http::Metrics& metrics, const Outbox& outbox, CheckStorage check_storage) {
    return {"storage", [&metrics, &outbox] { metrics.watch_outbox([&outbox] { return backlog_of(outbox); }); },
            [&metrics] { metrics.watch_outbox({}); },  // the outbox goes after this; /metrics may still be asked
            [&outbox, check_storage](nlohmann::json& body) mutable {
                try {
                    check_storage();
                    const auto [undelivered, age] = backlog_of(outbox);
                    body["database"] = "ok";
                    body["outbox"] = {{"undelivered", undelivered}, {"oldest_age_seconds", age}};
                    return true;
                } catch (const std::exception& error) {
                    body["database"] = error.what();
                    return false;
                }
            }};
}

inline void print_banner(const Options& options, unsigned short port, std::string_view storage) {
    const std::string url = fmt::format("http://{}:{}", options.host, port);
    fmt::print(
        "allocation-server listening on {} ({}, {} worker threads). Try:\n"
        "  curl -X POST {}/add_batch -H 'Content-Type: application/json' "
        "-d '{{\"ref\": \"batch-001\", \"sku\": \"SMALL-TABLE\", \"qty\": 20, \"eta\": null}}'\n"
        "  curl -X POST {}/allocate -H 'Content-Type: application/json' "
        "-d '{{\"orderid\": \"order-1\", \"sku\": \"SMALL-TABLE\", \"qty\": 2}}'\n"
        "  curl {}/allocations/order-1\n"
        "  curl {}/products/SMALL-TABLE\n"
        "Stop it with Ctrl-C.\n",
        url, storage, options.threads, url, url, url, url);
    std::fflush(stdout);
}

/// The HTTP adapter's part: the book's routes over `bus`, served from start on, /ready asking every component.
template <typename Routes>
Component http_component(Service& service, const Routes& routes, const Components& components,
                         std::string storage) {
    return {"http", [&service, &routes, &components, storage = std::move(storage)] {
                service.server.serve({routes.table(), [&components] { return components.readiness(); }});
                print_banner(service.options, service.server.port(), storage);
            }};
}

/// Composes the bus over `uow_factory`, with the delivery over `outbox`, and serves it until the server has drained.
/// What must leave the service leaves through the outbox only: each commit stores its rows, the bus hands them to
/// the delivery at once, and the relay's thread delivers what failed (delivery.hpp).
template <typename Factory, typename View, typename Outbox, typename CheckStorage>
int serve(Service& service, Factory uow_factory, View& view, Outbox& outbox, CheckStorage check_storage,
          std::string storage) {
    const Options& options = service.options;
    http::Metrics& metrics = service.metrics;
    const auto retention = millis(options.retention);
    OutboundDelivery delivery(outbox, senders(service.parts, options), purge_older_than(retention, outbox, uow_factory),
                              std::clamp<std::chrono::milliseconds>(retention / 4, std::chrono::milliseconds(10),
                                                                    std::chrono::hours(1)));
    auto bus = bootstrap(uow_factory, delivery, bus_options(metrics));
    // Every command goes through it, so that one writer never races itself.
    GroupCommit grouped(bus, options.group_limit, [&metrics](std::size_t commands) { metrics.command_group(commands); });
    Components components;
    components.add(storage_component(metrics, outbox, std::move(check_storage)));
    components.add({"delivery", [&] { delivery.start(); },
                    [&] { delivery.stop(); }});  // what it has not delivered stays in the outbox for the next start
    for (const Part& part : service.parts) {
        if (!part.add_consumers) continue;
        part.add_consumers(components, options, service.server.port(),
                           [&grouped](const commands::ChangeBatchQuantity& cmd) { grouped.handle(cmd); });
    }
    http::Routes routes(grouped, view, uow_factory, metrics, service_log());
    components.add(http_component(service, routes, components, std::move(storage)));
    components.start();
    service.server.wait();
    components.stop();  // the consumers before the bus they feed goes away, then the delivery
    log_line("stopped");
    return 0;
}

}  // namespace allocation::service
