// allocation-server: the allocation service over HTTP, on an embedded SQLite database, a PostgreSQL database that
// several servers may share, or in memory, with optional Redis events. The composition root of the book's Flask app,
// as one C++ program.
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <optional>
#include <string>
#include <thread>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "allocation/adapters/memory/memory.hpp"
#include "allocation/allocation.hpp"
#include "allocation/adapters/http/metrics.hpp"
#include "allocation/adapters/http/routes.hpp"
#include "allocation/adapters/http/server.hpp"
#include "delivery.hpp"
#include "logging.hpp"

#if ALLOCATION_SERVER_WITH_SQLITE
#include "allocation/adapters/sqlite/sqlite.hpp"
#endif
#if ALLOCATION_SERVER_WITH_POSTGRES
#include "allocation/adapters/postgres/postgres.hpp"
#endif
#if ALLOCATION_SERVER_WITH_REDIS
#include "allocation/adapters/redis/redis.hpp"
#include "allocation/adapters/redis/stream_consumer.hpp"
#endif

namespace {

using namespace allocation;
using namespace allocation::service;
using http::Metrics;
using http::Response;

struct Options {
    std::string db = "./allocation.db";
    bool memory = false;
    std::string synchronous = "full";
    std::string outbox = "on";
    std::string postgres;  // a libpq URI; empty: SQLite (--db)
    std::string host = "127.0.0.1";
    int port = 5005;
    // 0: the storage's default (default_threads).
    std::size_t threads = 0;
    std::size_t io_threads = 1;
    std::string redis;
    std::string smtp;
    std::size_t stream_max_length = DeliveryOptions{}.stream_max_length;
    std::string consumer_name;  // empty: allocation-server-<port>
    double claim_idle = 60;
    std::int64_t max_deliveries = 10;  // redis::StreamConsumerOptions's
    double retention = 7 * 86400;
    std::size_t max_connections = http::Limits{}.max_connections;
    std::size_t queue_limit = http::Limits{}.queue_limit;
    std::size_t header_limit = http::Limits{}.header_bytes;
    std::size_t body_limit = http::Limits{}.body_bytes;
    double request_timeout = 10, idle_timeout = 5, write_timeout = 10, drain_timeout = 10;
};

// Every flag also comes from an environment variable, ALLOCATION_<FLAG>; a flag given on the command line wins.
struct Flags {
    CLI::App& app;
    template <typename T>
    CLI::Option* operator()(const std::string& name, T& value, const std::string& help) const {
        std::string env = "ALLOCATION_" + name;
        std::transform(env.begin(), env.end(), env.begin(), [](char c) { return c == '-' ? '_' : std::toupper(c); });
        return app.add_option("--" + name, value, help)->envname(env)->capture_default_str();
    }
};

void add_storage_options(CLI::App& app, Options& o) {
    const Flags flag{app};
    flag("db", o.db, "SQLite database file (created if missing)");
    app.add_flag("--memory", o.memory, "Keep everything in memory instead (lost on exit)")->envname("ALLOCATION_MEMORY");
    flag("synchronous", o.synchronous,
         "SQLite durability: full (a 201/202 survives a power cut) or normal (survives a crash of the process)")
        ->check(CLI::IsMember({"full", "normal"}));
    flag("outbox", o.outbox,
         "on: what must leave the service (Allocated to Redis, the out-of-stock notification) is stored with each "
         "commit and delivered at least once by a relay; off: the bus sends it right after the commit, at most once "
         "(the book's way; SQLite only, to measure what the outbox costs)")
        ->check(CLI::IsMember({"on", "off"}));
#if ALLOCATION_SERVER_WITH_POSTGRES
    flag("postgres", o.postgres,
         "PostgreSQL URI (postgresql://USER[:PASSWORD]@HOST:PORT/DATABASE) instead of the SQLite file; several "
         "servers may share one database")
        ->excludes("--memory");
#endif
}

void add_service_options(CLI::App& app, Options& o) {
    const Flags flag{app};
    flag("host", o.host, "Address to listen on");
    flag("port", o.port, "Port to listen on")->check(CLI::Range(0, 65535));
    flag("threads", o.threads, "Worker threads running commands and product reads, each with its own database connection "
                         "(SQLite writes one at a time: more only help while some requests wait on something else; "
                         "on PostgreSQL each waits on its own round trips, so several help)")
        ->check(CLI::Range(1, 256))
        ->default_str("1, or 4 on PostgreSQL");
    flag("io-threads", o.io_threads, "Threads doing the network I/O")->check(CLI::Range(1, 64));
#if ALLOCATION_SERVER_WITH_REDIS
    flag("redis", o.redis,
         "Redis HOST:PORT: Allocated events to the stream allocation:line_allocated and the channel line_allocated; "
         "change_batch_quantity commands from that channel");
    flag("stream-max-length", o.stream_max_length, "Entries the stream allocation:line_allocated keeps, about")
        ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 40));
    flag("consumer-name", o.consumer_name,
         "This server's consumer name in the group allocation of the stream allocation:change_batch_quantity; unique "
         "per server and kept across restarts, so that a restart takes back its own pending entries (default: "
         "allocation-server-<port>)");
    flag("claim-idle", o.claim_idle,
         "Seconds an entry of allocation:change_batch_quantity may stay pending with another consumer before this "
         "one claims it")
        ->check(CLI::Range(0.001, 86400.0));
    flag("max-deliveries", o.max_deliveries,
         "Deliveries an entry of allocation:change_batch_quantity gets at most while it fails with a temporary error "
         "(the database busy, a lost race); then it goes to allocation:dead_letter, with the count and the last error")
        ->check(CLI::Range(std::int64_t{1}, std::int64_t{1000000}));
#endif
#if ALLOCATION_SERVER_WITH_EMAIL
    flag("smtp", o.smtp, "SMTP server HOST:PORT for the out-of-stock email (without it, a log line)");
#endif
    flag("retention", o.retention,
         "Seconds delivered outbox rows and processed message ids are kept; older ones are purged (at start, then "
         "every hour, or every quarter of this when shorter). The ids are the window in which a redelivered stream "
         "message is recognised: keep it longer than any redelivery (--claim-idle, the retries)")
        ->check(CLI::Range(0.001, 10.0 * 365 * 86400));
}

void add_limit_options(CLI::App& app, Options& o) {
    const Flags flag{app};
    flag("max-connections", o.max_connections, "Open connections at most; beyond, 503")->check(CLI::Range(1, 1000000));
    flag("queue-limit", o.queue_limit, "Requests waiting for a worker at most; beyond, 503")->check(CLI::Range(1, 1000000));
    flag("header-limit", o.header_limit, "Bytes of request line and headers at most; beyond, 431")
        ->check(CLI::Range(512, 1024 * 1024));
    flag("body-limit", o.body_limit, "Bytes of request body at most, however framed; beyond, 413")
        ->check(CLI::Range(1, 64 * 1024 * 1024));
    flag("request-timeout", o.request_timeout, "Seconds for a whole request to arrive; beyond, 408")
        ->check(CLI::Range(0.01, 3600.0));
    flag("idle-timeout", o.idle_timeout, "Seconds a keep-alive connection may wait for its next request")
        ->check(CLI::Range(0.01, 3600.0));
    flag("write-timeout", o.write_timeout, "Seconds for an answer to be taken by its client")->check(CLI::Range(0.01, 3600.0));
    flag("drain-timeout", o.drain_timeout, "Seconds from SIGTERM to exit, at most")->check(CLI::Range(0.0, 3600.0));
}

void add_options(CLI::App& app, Options& o) {
    add_storage_options(app, o);
    add_service_options(app, o);
    add_limit_options(app, o);
}

/// The HTTP adapter's lines go to the service's log (logging.hpp), the request lines buffered.
http::Log service_log() { return {log_line, log_request}; }

std::chrono::milliseconds millis(double seconds) {
    return std::chrono::milliseconds(static_cast<long long>(seconds * 1000));
}

/// SQLite takes one writer at a time, and every commit on one connection empties the page cache of the others:
/// one worker writes fastest there (docs/performance.md, "HTTP service"). On PostgreSQL a worker spends most of a
/// command waiting on its connection's round trips, so several keep the database busy.
std::size_t default_threads(const Options& o) { return o.postgres.empty() ? 1 : 4; }

http::ServerOptions server_options(const Options& o) {
    http::ServerOptions s;
    s.host = o.host;
    s.port = static_cast<unsigned short>(o.port);
    s.io_threads = o.io_threads;
    s.workers = o.threads;
    s.limits = {o.header_limit, o.body_limit, millis(o.request_timeout), millis(o.idle_timeout),
                millis(o.write_timeout),  o.max_connections, o.queue_limit, millis(o.drain_timeout)};
    s.log = service_log();
    return s;
}


void print_banner(const Options& options, unsigned short port, std::string_view storage) {
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

BusOptions bus_options(Metrics& metrics) {
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

/// GET /ready: 200 when the database answers a query and, with --redis, the subscription is confirmed; with
/// the outbox's backlog and the stream consumer's state, which never make the service unready by themselves.
template <typename CheckStorage, typename Outbox, typename RedisState, typename StreamState>
Response readiness(CheckStorage& check_storage, const Outbox& outbox, RedisState& redis_state,
                   StreamState& stream_state) {
    nlohmann::json body = {{"status", "ready"}, {"database", "ok"}};
    int status = 200;
    try {
        check_storage();
        const auto [undelivered, age] = backlog_of(outbox);
        body["outbox"] = {{"undelivered", undelivered}, {"oldest_age_seconds", age}};
    } catch (const std::exception& error) {
        body["database"] = error.what();
        status = 503;
    }
    if (auto redis = redis_state()) {
        body["redis"] = *redis;
        if (*redis != "subscribed") status = 503;
    }
    if (auto stream = stream_state()) body["redis_stream"] = *stream;
    if (status != 200) body["status"] = "unavailable";
    return {status, http::to_text(body), "ready"};
}

#if ALLOCATION_SERVER_WITH_REDIS
/// With --redis, consumes allocation:change_batch_quantity through the group allocation, applying each message id
/// once (the bus's unit of work records it) and acknowledging it after the commit.
template <typename Bus>
void start_stream_consumer(std::optional<redis::StreamConsumer>& consumer, const Options& options, unsigned short port,
                           Bus& bus) {
    if (options.redis.empty()) return;
    const std::string name =
        options.consumer_name.empty() ? "allocation-server-" + std::to_string(port) : options.consumer_name;
    redis::StreamConsumerOptions stream_options;
    stream_options.claim_idle = millis(options.claim_idle);
    stream_options.max_deliveries = options.max_deliveries;
    consumer.emplace(
        redis::parse_endpoint(options.redis), name, [&bus](const commands::ChangeBatchQuantity& cmd) { bus.handle(cmd); },
        [](std::string_view line) { log_line(line); }, stream_options);
}
#endif

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

/// Composes the bus over `uow_factory`, with the relay over `outbox`, and serves it until the server has drained.
/// The bus itself notifies and publishes nothing: its commits store what must leave in the outbox, and the
/// relay delivers it (delivery.hpp). With --outbox off, nothing is stored, no relay runs, and the bus delivers.
template <typename Factory, typename View, typename Outbox, typename CheckStorage>
int serve(http::Server& server, Metrics& metrics, const Options& options, Factory uow_factory, View& view,
          Outbox& outbox, CheckStorage check_storage, std::string_view storage) {
    const DeliveryOptions delivery_options{options.redis, options.smtp, options.stream_max_length};
    const bool with_outbox = options.outbox == "on";
    AfterCommit after_commit(delivery_options, !with_outbox);
    auto bus = bootstrap(uow_factory, after_commit, after_commit, bus_options(metrics));
    const auto retention = millis(options.retention);
    Delivery delivery(outbox, delivery_options, purge_older_than(retention, outbox, uow_factory),
                      std::clamp<std::chrono::milliseconds>(retention / 4, std::chrono::milliseconds(10),
                                                            std::chrono::hours(1)));
    metrics.watch_outbox([&outbox] { return backlog_of(outbox); });
    struct Unwatch {  // the outbox goes when this function returns or throws; /metrics may still be asked
        Metrics& metrics;
        ~Unwatch() { metrics.watch_outbox({}); }
    } unwatch{metrics};
    if (with_outbox) delivery.start();
#if ALLOCATION_SERVER_WITH_REDIS
    std::optional<redis::Consumer> consumer;
    if (!options.redis.empty()) {
        consumer.emplace(
            redis::parse_endpoint(options.redis), [&bus](const commands::ChangeBatchQuantity& cmd) { bus.handle(cmd); },
            [](std::string_view line) { log_line(line); });
    }
    auto redis_state = [&consumer]() -> std::optional<std::string> {
        if (!consumer) return std::nullopt;
        return consumer->subscribed() ? "subscribed" : "connecting";
    };
    std::optional<redis::StreamConsumer> stream_consumer;
    start_stream_consumer(stream_consumer, options, server.port(), bus);
    auto stream_state = [&stream_consumer]() -> std::optional<std::string> {
        if (!stream_consumer) return std::nullopt;
        return stream_consumer->reading() ? "reading" : "connecting";
    };
#else
    auto redis_state = []() -> std::optional<std::string> { return std::nullopt; };
    auto stream_state = redis_state;
#endif
    http::Routes routes(bus, view, uow_factory, metrics, service_log());
    server.serve({routes.table(), [&] { return readiness(check_storage, outbox, redis_state, stream_state); }});
    print_banner(options, server.port(), storage);
    server.wait();
#if ALLOCATION_SERVER_WITH_REDIS
    if (consumer) consumer->stop();  // before the bus they feed goes away
    if (stream_consumer) stream_consumer->stop();
#endif
    delivery.stop();  // what it has not delivered stays in the outbox for the next start
    log_line("stopped");
    return 0;
}

#if ALLOCATION_SERVER_WITH_POSTGRES
/// Serves on the PostgreSQL database at --postgres. Connecting and migrating happen here, before the server
/// answers /ready; a database that cannot be reached ends the program with a message naming it.
int run_on_postgres(http::Server& server, Metrics& metrics, const Options& options) {
    postgres::Database database(postgres::Options{.uri = options.postgres});
    postgres::AllocationsView view(database);
    postgres::Outbox outbox(database);
    return serve(server, metrics, options, postgres::UnitOfWorkFactory(database), view, outbox,
                 [&] { database.check(); }, fmt::format("PostgreSQL database {}", database.where()));
}
#endif

int run(http::Server& server, Metrics& metrics, const Options& options) {
    if (options.memory) {
        if (options.outbox == "off") throw Error("--outbox off is for the SQLite database, not --memory");
        memory::Store store;
        return serve(server, metrics, options, memory::UnitOfWorkFactory(store), store.allocations(), store.outbox(),
                     [] {}, "in memory");
    }
#if ALLOCATION_SERVER_WITH_POSTGRES
    if (!options.postgres.empty()) {
        if (options.outbox == "off") throw Error("--outbox off is for the SQLite database, not --postgres");
        return run_on_postgres(server, metrics, options);
    }
#endif
#if ALLOCATION_SERVER_WITH_SQLITE
    // Opening may wait for another process's lock or run migrations; /ready says "starting" meanwhile.
    const bool normal = options.synchronous == "normal";
    sqlite::Database database(sqlite::Options{
        .path = options.db,
        .synchronous = normal ? sqlite::Synchronous::normal : sqlite::Synchronous::full,
        // With `full` every commit syncs already, and a checkpointer's syncs beside them slow them down.
        .checkpoint = normal ? sqlite::Checkpoint::background : sqlite::Checkpoint::automatic,
        .outbox = options.outbox == "on" ? sqlite::OutboxRows::stored : sqlite::OutboxRows::off});
    sqlite::AllocationsView view(database);
    sqlite::Outbox outbox(database);
    return serve(server, metrics, options, sqlite::UnitOfWorkFactory(database), view, outbox, [&] { database.check(); },
                 fmt::format("database {}, synchronous={}", options.db, options.synchronous));
#else
    log_line("this build has no SQLite support; run with --memory");
    return 2;
#endif
}

}  // namespace

int main(int argc, char** argv) {
    Options options;
    CLI::App app{"The allocation service: allocates order lines to batches of stock, over HTTP."};
    add_options(app, options);
    CLI11_PARSE(app, argc, argv);
    if (options.threads == 0) options.threads = default_threads(options);

    ::signal(SIGPIPE, SIG_IGN);  // a client or broker that hangs up must not kill the server
    Metrics metrics;
    std::optional<http::Server> server;
    try {
        server.emplace(server_options(options), metrics);
    } catch (const std::exception& error) {
        log_line(fmt::format("allocation-server: {}", error.what()));
        return 1;
    }
    try {
        return run(*server, metrics, options);
    } catch (const std::exception& error) {
        log_line(fmt::format("allocation-server: {}", error.what()));
        server->shutdown();
        server->wait();
        return 1;
    }
}
