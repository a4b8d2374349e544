// allocation-server's SQLite part: --db and --synchronous, and the storage it serves on when no other is chosen.
#include <fmt/format.h>

#include "allocation/adapters/sqlite/sqlite.hpp"
#include "parts.hpp"
#include "serve.hpp"

namespace allocation::service {

namespace {

void add_sqlite_options(const Flags& flag, Options& o) {
    flag("db", o.db, "SQLite database file (created if missing)");
    flag("synchronous", o.synchronous,
         "SQLite durability: full (a 201/202 survives a power cut) or normal (survives a crash of the process)")
        ->check(CLI::IsMember({"full", "normal"}));
}

int serve_on_sqlite(Service& service) {
    const Options& options = service.options;
    // Opening may wait for another process's lock or run migrations; /ready says "starting" meanwhile.
    const bool normal = options.synchronous == "normal";
    sqlite::Database database(sqlite::Options{
        .path = options.db,
        .synchronous = normal ? sqlite::Synchronous::normal : sqlite::Synchronous::full,
        // With `full` every commit syncs already, and a checkpointer's syncs beside them slow them down.
        .checkpoint = normal ? sqlite::Checkpoint::background : sqlite::Checkpoint::automatic});
    sqlite::AllocationsView view(database);
    sqlite::Outbox outbox(database);
    return serve(service, sqlite::UnitOfWorkFactory(database), view, outbox, [&] { database.check(); },
                 fmt::format("database {}, synchronous={}", options.db, options.synchronous));
}

}  // namespace

Part sqlite_part() {
    return {"sqlite", add_sqlite_options, [](const Options&) { return true; }, serve_on_sqlite};
}

}  // namespace allocation::service
