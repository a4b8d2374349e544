// The PostgreSQL database: reaching it, bringing its schema up to date, and the connections units of work use.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include <pqxx/pqxx>

#include "allocation/adapters/postgres/errors.hpp"
#include "allocation/adapters/postgres/migrations.hpp"
#include "allocation/adapters/postgres/options.hpp"
#include "allocation/adapters/postgres/pool.hpp"
#include "allocation/adapters/postgres/statements.hpp"
#include "allocation/detail/stored_view.hpp"
#include "allocation/domain/errors.hpp"
#include "allocation/outbox.hpp"

namespace allocation::postgres {

/// The allocation database: constructing it connects, checks the schema and brings it up to date (migrations in
/// one transaction, under an advisory lock, so that several processes may start together on an empty database;
/// the version lives in the table schema_version). A database that cannot be reached, or whose schema is newer
/// than this library knows, is refused with a StorageError naming it (without its password) and the reason, and
/// is left as it was.
///
/// It owns a pool of connections, one per thread that uses it at once, each with its statements prepared once.
/// A connection that breaks is dropped and the next unit of work opens a new one: the Database outlives an
/// outage of the server. It must outlive every factory, unit of work and view made from it; not copyable.
class Database {
public:
    explicit Database(Options options)
        : options_(std::move(options)),
          pool_(detail::PoolPolicy{detail::connection_string(options_), detail::redacted(options_.uri)}) {
        // On a connection of its own, not one of the pool's: those prepare their statements as they open (libpqxx
        // 7 at once), which needs the tables the migrations create.
        pqxx::connection connection = pool_.policy().open_bare();
        detail::translated(where(), "cannot create or upgrade the schema", [] {},
                           [&] { detail::migrate(connection, where()); });
    }
    Database(const Database&) = delete;
    Database& operator=(const Database&) = delete;

    const Options& options() const noexcept { return options_; }
    /// The database's URI as messages name it: without its password.
    const std::string& where() const noexcept { return pool_.policy().where; }

    /// Asks the database one question (its schema version) on a connection nobody else is using, for readiness
    /// probes: throws StorageError, saying what, when the server does not answer or another program gave the
    /// database a newer schema.
    void check() {
        detail::Lease lease(pool_.acquire());
        const int found = lease.guarded(where(), "cannot read the schema version", [&] {
            pqxx::nontransaction tx(lease.db());
            const auto rows = detail::run(tx, detail::sql::select_schema_version);
            return rows[0][0].is_null() ? 0 : rows[0][0].as<int>();
        });
        detail::refuse_if_newer(where(), found);
    }

    /// The connections the pool holds now (in use or idle).
    std::size_t connections() { return pool_.size(); }

private:
    friend class UnitOfWork;
    template <typename, auto, auto, auto>
    friend class allocation::detail::StoredAllocationsView;  // the AllocationsView, through one_statement
    friend class Outbox;

    detail::Lease lease() { return detail::Lease(pool_.acquire()); }

    /// Runs `fn(tx)` on a connection nobody else is using, each statement its own transaction (for the views'
    /// and the outbox's single statements), translating failures as detail::translated does.
    template <typename Fn>
    auto one_statement(std::string_view doing, Fn&& fn) -> std::invoke_result_t<Fn&, pqxx::transaction_base&> {
        detail::Lease lease(pool_.acquire());
        return lease.guarded(where(), doing, [&]() -> std::invoke_result_t<Fn&, pqxx::transaction_base&> {
            pqxx::nontransaction tx(lease.db());
            return fn(tx);
        });
    }

    Options options_;
    detail::ConnectionPool pool_;
    // Delivery marks (postgres::Outbox::mark_delivered) written in batches, not one transaction per delivery.
    allocation::detail::PendingMarks marks_;
};

}  // namespace allocation::postgres
