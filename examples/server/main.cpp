// allocation-server: the allocation service over HTTP, on an embedded SQLite database, a PostgreSQL database that
// several servers may share, or in memory, with optional Redis events. The composition root of the book's Flask app,
// as one C++ program: it reads the configuration, builds the HTTP adapter, and serves on the storage the options
// choose (serve.hpp), with the optional parts this build has (parts.hpp).
#include <signal.h>

#include <exception>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "allocation/adapters/http/server.hpp"
#include "allocation/adapters/memory/memory.hpp"
#include "allocation/allocation.hpp"
#include "logging.hpp"
#include "options.hpp"
#include "parts.hpp"
#include "serve.hpp"

namespace {

using namespace allocation;
using namespace allocation::service;

void add_storage_options(CLI::App& app, Options& o) {
    app.add_flag("--memory", o.memory, "Keep everything in memory instead (lost on exit)")->envname("ALLOCATION_MEMORY");
}

void add_service_options(const Flags& flag, Options& o) {
    flag("host", o.host, "Address to listen on");
    flag("port", o.port, "Port to listen on")->check(CLI::Range(0, 65535));
    flag("threads", o.threads, "Worker threads running commands and product reads, each with its own database connection "
                         "(on SQLite the commands of those waiting for the writer commit together: see --group-limit; "
                         "on PostgreSQL each waits on its own round trips, so several help)")
        ->check(CLI::Range(1, 256))
        ->default_str("16 on SQLite, 4 on PostgreSQL, 1 in memory");
    flag("io-threads", o.io_threads, "Threads doing the network I/O")->check(CLI::Range(1, 64));
    flag("group-limit", o.group_limit,
         "Commands committed together at most: those that wait for the writer while a commit runs go in one "
         "transaction, a savepoint each, and one sync to disk (1: each command alone)")
        ->check(CLI::Range(1, 4096))
        ->default_str("64, or 1 on PostgreSQL and in memory");
    flag("retention", o.retention,
         "Seconds delivered outbox rows and processed message ids are kept; older ones are purged (at start, then "
         "every hour, or every quarter of this when shorter). The ids are the window in which a redelivered stream "
         "message is recognised: keep it longer than any redelivery (--claim-idle, the retries)")
        ->check(CLI::Range(0.001, 10.0 * 365 * 86400));
}

void add_limit_options(const Flags& flag, Options& o) {
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

void add_options(CLI::App& app, Options& o, const std::vector<Part>& parts) {
    const Flags flag{app};
    add_storage_options(app, o);
    for (const Part& part : parts) {
        if (part.add_flags) part.add_flags(flag, o);
    }
    add_service_options(flag, o);
    add_limit_options(flag, o);
}

bool on_sqlite(const Options& o) { return o.postgres.empty() && !o.memory; }

/// SQLite takes one writer at a time: its workers hand their commands in to group commit, and those that wait while
/// a commit runs go in the next one together, so there are as many workers as commands one group may hold. On
/// PostgreSQL a worker spends most of a command waiting on its connection's round trips, so several keep the
/// database busy. In memory, commands take turns on the store's lock.
std::size_t default_threads(const Options& o) { return on_sqlite(o) ? 16 : o.memory ? 1 : 4; }

/// Group commit pays where a commit costs a sync to disk shared by nobody else: on SQLite.
std::size_t default_group_limit(const Options& o) { return on_sqlite(o) ? 64 : 1; }

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

/// --memory: the storage every build has.
Part memory_part() {
    return {"memory", {}, [](const Options& options) { return options.memory; }, [](Service& service) {
                memory::Store store;
                return serve(service, memory::UnitOfWorkFactory(store), store.allocations(), store.outbox(), [] {},
                             "in memory");
            }};
}

/// Serves on the first storage the options choose, until the server has drained.
int run(Service& service) {
    for (const Part& part : service.parts) {
        if (part.chooses && part.chooses(service.options)) return part.serve(service);
    }
    log_line("this build has no SQLite support; run with --memory");
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<Part> parts{memory_part()};
    for (Part& part : optional_parts()) parts.push_back(std::move(part));
    Options options;
    CLI::App app{"The allocation service: allocates order lines to batches of stock, over HTTP."};
    add_options(app, options, parts);
    CLI11_PARSE(app, argc, argv);
    if (options.threads == 0) options.threads = default_threads(options);
    if (options.group_limit == 0) options.group_limit = default_group_limit(options);

    ::signal(SIGPIPE, SIG_IGN);  // a client or broker that hangs up must not kill the server
    ::signal(SIGXFSZ, SIG_IGN);  // a file size limit fails the write (503, /ready), it does not kill the server
    log_bus_errors();
    http::Metrics metrics;
    std::optional<http::Server> server;
    try {
        server.emplace(server_options(options), metrics);
    } catch (const std::exception& error) {
        log_line(fmt::format("allocation-server: {}", error.what()));
        return 1;
    }
    Service service{options, metrics, *server, parts};
    try {
        return run(service);
    } catch (const std::exception& error) {
        log_line(fmt::format("allocation-server: {}", error.what()));
        server->shutdown();
        server->wait();
        return 1;
    }
}
