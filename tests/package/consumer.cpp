// The consumers' program: allocate through the bus on the in-memory adapters, and on SQLite and with the Redis
// publisher type, and on a directory of CSV files, when the consumer has those components.
#include <cstdio>

#include <allocation/adapters/memory/memory.hpp>
#include <allocation/allocation.hpp>
#ifdef CONSUMER_HAS_SQLITE
#include <allocation/adapters/sqlite/sqlite.hpp>
#endif
#ifdef CONSUMER_HAS_REDIS
#include <allocation/adapters/redis/redis.hpp>
#endif
#ifdef CONSUMER_HAS_POSTGRES
#include <cstdio>

#include <allocation/adapters/postgres/postgres.hpp>
#endif
#ifdef CONSUMER_HAS_EMAIL
#include <allocation/adapters/email/smtp.hpp>
#endif
#ifdef CONSUMER_HAS_CSV
#include <allocation/adapters/csv/csv.hpp>

#include <filesystem>
#include <string>
#include <unistd.h>
#endif

int main() {
    using namespace allocation;
    memory::Store store;
    memory::AllocationsView& view = store.allocations();
    memory::RecordingNotifier notifier;
    memory::RecordingPublisher publisher;
    Relay relay(store.outbox(), handlers::Outbound(notifier, publisher));
    auto bus = bootstrap(memory::UnitOfWorkFactory(store), relay);
    bus.handle(commands::CreateBatch{"b1", "LAMP", 10, std::nullopt});
    auto ref = bus.handle(commands::Allocate{"o1", "LAMP", 3});
    if (!ref || views::allocations("o1", view).size() != 1 || publisher.published().size() != 1) return 1;
    std::printf("allocated to %s\n", ref->c_str());
#ifdef CONSUMER_HAS_SQLITE
    {  // the SQLite adapter links and works: a private database, one more allocation through a second bus
        sqlite::Database db(sqlite::Options{.path = ":memory:"});
        sqlite::AllocationsView sqlite_view(db);
        sqlite::Outbox sqlite_outbox(db);
        Relay sqlite_relay(sqlite_outbox, handlers::Outbound(notifier, publisher));
        auto sqlite_bus = bootstrap(sqlite::UnitOfWorkFactory(db), sqlite_relay);
        sqlite_bus.handle(commands::CreateBatch{"b1", "LAMP", 10, std::nullopt});
        if (sqlite_bus.handle(commands::Allocate{"o1", "LAMP", 3}) != "b1") return 1;
    }
#endif
#ifdef CONSUMER_HAS_CSV
    {  // the CSV adapter links and works: a fresh directory, one allocation written to its allocations.csv
        namespace fs = std::filesystem;
        const fs::path dir = fs::temp_directory_path() / ("allocation-consumer-" + std::to_string(::getpid()));
        fs::remove_all(dir);
        fs::create_directories(dir);
        bool written = false;
        {
            csv::Directory files(csv::Options{.directory = dir, .create = true});
            Relay csv_relay(files.outbox(), handlers::Outbound(notifier, publisher));
            auto csv_bus = bootstrap(csv::UnitOfWorkFactory(files), csv_relay);
            csv_bus.handle(commands::CreateBatch{"b1", "LAMP", 10, std::nullopt});
            written = csv_bus.handle(commands::Allocate{"o1", "LAMP", 3}) == "b1" &&
                      csv::read_allocations(dir / "allocations.csv").size() == 1;
        }
        fs::remove_all(dir);
        if (!written) return 1;
    }
#endif
#ifdef CONSUMER_HAS_REDIS
    static_assert(ports::EventPublisher<redis::Publisher>);
#endif
#ifdef CONSUMER_HAS_EMAIL
    static_assert(ports::Notifier<email::SmtpNotifier>);
#endif
#ifdef CONSUMER_HAS_POSTGRES
    try {  // the PostgreSQL adapter links and reports a server that is not there as the library says it does
        postgres::Database db(postgres::Options{.uri = "postgresql://postgres@127.0.0.1:1/allocation"});
        return 1;
    } catch (const StorageError& e) {
        std::printf("postgres: %s\n", e.what());
    }
#endif
    return 0;
}
