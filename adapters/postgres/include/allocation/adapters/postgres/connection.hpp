// One PostgreSQL connection with its prepared statements, used by one thread at a time.
#pragma once

#include <poll.h>

#include <algorithm>
#include <chrono>
#include <string>

#include <pqxx/pqxx>

#include "allocation/adapters/postgres/options.hpp"
#include "allocation/adapters/postgres/statements.hpp"
#include "allocation/detail/product_cache.hpp"

namespace allocation::postgres::detail {

/// The libpq connection string of `options`: its URI with the connect timeout added.
inline std::string connection_string(const Options& options) {
    const auto seconds = std::max<long long>(
        2, std::chrono::ceil<std::chrono::seconds>(options.connect_timeout).count());
    const bool uri = options.uri.rfind("postgresql://", 0) == 0 || options.uri.rfind("postgres://", 0) == 0;
    if (!uri) return options.uri + " connect_timeout=" + std::to_string(seconds);
    return options.uri + (options.uri.find('?') == std::string::npos ? "?" : "&") +
           "connect_timeout=" + std::to_string(seconds);
}

/// A connection, the products it keeps, and what the pool knows of it. Its statements are prepared when it opens, once.
struct Connection {
    explicit Connection(const std::string& connection_string) : db(connection_string) {
        // READ COMMITTED whatever the database's default: a lookup's row lock waits for the unit of work that
        // holds the product and then locks the row as that one left it, where REPEATABLE READ would refuse it with
        // a serialization failure; each statement reads a snapshot of its own, so the lookup run again after the
        // wait sees the rows the other one committed.
        pqxx::nontransaction(db).exec("SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL READ COMMITTED");
        // Each statement is planned on its first run, then its plan is reused (refresh_plans re-plans them as
        // the tables grow): every one reads by an index whatever its parameters, and custom plans, made on every
        // run, cost more to make than to run (150 us for a product lookup once the product had 100,000 lines).
        pqxx::nontransaction(db).exec("SET plan_cache_mode = force_generic_plan");
        prepare_statements(db);
    }

    /// Whether the server has ended the connection while it sat idle in the pool (a restart, an administrator):
    /// an idle connection is not sent anything, so anything to read means its end (an error, then EOF).
    bool closed_while_idle() const noexcept {
        if (broken) return true;
        pollfd fd{};
        fd.fd = db.sock();
        if (fd.fd < 0) return true;
        fd.events = POLLIN;
        return ::poll(&fd, 1, 0) != 0;
    }

    /// Ends a connection the server closed, so that whatever libpqxx would still send on it (the ROLLBACK of a
    /// transaction left open) fails before anything is sent, instead of opening it again by itself. The pool then
    /// drops it.
    void close() noexcept {
        broken = true;
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"  // libpqxx 6.4's only way to say it
        db.inhibit_reactivation(true);
#pragma GCC diagnostic pop
        db.disconnect();
    }

    /// Drops the connection's plans when they are `plans_last` old, so that its statements are planned again
    /// for the tables as they are now. A plan made when a table was empty reads it whole (it was cheapest then)
    /// and stays until ANALYZE invalidates it, which autovacuum may run only minutes later: on a fresh database,
    /// a lookup then took longer with every allocation. A connection this fails on is marked broken.
    void refresh_plans(std::chrono::steady_clock::time_point now) noexcept {
        if (now - planned_at < plans_last) return;
        planned_at = now;
        if (closed_while_idle()) {  // libpqxx 6.4 leaks the result of a statement that fails on a closed connection
            broken = true;
            return;
        }
        try {
            pqxx::nontransaction(db).exec("DISCARD PLANS");
        } catch (...) {
            broken = true;
        }
    }
    static constexpr std::chrono::seconds plans_last{10};

    pqxx::connection db;
    std::chrono::steady_clock::time_point planned_at = std::chrono::steady_clock::now();
    allocation::detail::ProductCache cache;  // the products its units of work ended with
    bool broken = false;  // set by whoever saw it fail; the pool then drops it
};

}  // namespace allocation::postgres::detail
