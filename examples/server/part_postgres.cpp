// allocation-server's PostgreSQL part: --postgres, and the storage it names, which several servers may share.
#include <fmt/format.h>

#include "allocation/adapters/postgres/postgres.hpp"
#include "parts.hpp"
#include "serve.hpp"

namespace allocation::service {

namespace {

void add_postgres_options(const Flags& flag, Options& o) {
    flag("postgres", o.postgres,
         "PostgreSQL URI (postgresql://USER[:PASSWORD]@HOST:PORT/DATABASE) instead of the SQLite file; several "
         "servers may share one database")
        ->excludes("--memory");
}

/// Serves on the PostgreSQL database at --postgres. Connecting and migrating happen here, before the server
/// answers /ready; a database that cannot be reached ends the program with a message naming it.
int run_on_postgres(Service& service) {
    postgres::Database database(postgres::Options{.uri = service.options.postgres});
    postgres::AllocationsView view(database);
    postgres::Outbox outbox(database);
    return serve(service, postgres::UnitOfWorkFactory(database), view, outbox, [&] { database.check(); },
                 fmt::format("PostgreSQL database {}", database.where()));
}

}  // namespace

Part postgres_part() {
    return {"postgres", add_postgres_options, [](const Options& options) { return !options.postgres.empty(); },
            run_on_postgres};
}

}  // namespace allocation::service
