// One PostgreSQL connection with its prepared statements, used by one thread at a time.
#pragma once

#include <poll.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <thread>

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
        // The compare-and-set of every commit is what makes it safe; READ COMMITTED whatever the database's
        // default, so that a commit waits for a concurrent one and then finds the version moved.
        pqxx::nontransaction(db).exec("SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL READ COMMITTED");
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

    pqxx::connection db;
    allocation::detail::ProductCache cache;  // the products its units of work ended with
    std::thread::id last_user;
    bool in_use = false;
    bool broken = false;  // set by whoever saw it fail; the pool then drops it
};

}  // namespace allocation::postgres::detail
