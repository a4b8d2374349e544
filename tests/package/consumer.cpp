// The consumers' program: allocate through the bus on the in-memory adapters, and on SQLite and with the Redis
// publisher type, and on a directory of CSV files, and over HTTP, when the consumer has those components.
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
#ifdef CONSUMER_HAS_HTTP
#include <allocation/adapters/http/routes.hpp>
#include <allocation/adapters/http/server.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string>
#include <sys/socket.h>
#include <unistd.h>
#endif
#ifdef CONSUMER_HAS_CSV
#include <allocation/adapters/csv/csv.hpp>

#include <filesystem>
#include <string>
#include <unistd.h>
#endif

#ifdef CONSUMER_HAS_HTTP
// One HTTP/1.1 exchange on 127.0.0.1:`port`, with plain sockets: the whole answer, or "" when it fails.
std::string exchange(unsigned short port, const std::string& request) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    std::string answer;
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0 &&
        ::send(fd, request.data(), request.size(), 0) == static_cast<ssize_t>(request.size())) {
        char chunk[4096];
        for (ssize_t n; (n = ::recv(fd, chunk, sizeof chunk, 0)) > 0;) {
            answer.append(chunk, static_cast<std::size_t>(n));
        }
    }
    ::close(fd);
    return answer;
}

// Serves the in-memory bus with the HTTP adapter on a port the system picks, and allocates through it.
bool allocates_over_http(allocation::memory::Store& store) {
    using namespace allocation;
    memory::UnitOfWorkFactory uow(store);
    memory::RecordingNotifier notifier;
    memory::RecordingPublisher publisher;
    Relay relay(store.outbox(), handlers::Outbound(notifier, publisher));
    auto bus = bootstrap(uow, relay);
    bus.handle(commands::CreateBatch{"b2", "DESK", 5, std::nullopt});
    http::Metrics metrics;
    http::Routes routes(bus, store.allocations(), uow, metrics);
    http::Server server({.host = "127.0.0.1", .port = 0, .workers = 1}, metrics);
    server.serve({.routes = routes.table()});
    const std::string body = R"({"orderid": "o2", "sku": "DESK", "qty": 2})";
    const std::string answer = exchange(server.port(), "POST /allocate HTTP/1.1\r\nHost: localhost\r\n"
                                                       "Content-Type: application/json\r\nConnection: close\r\n"
                                                       "Content-Length: " + std::to_string(body.size()) +
                                                       "\r\n\r\n" + body);
    server.shutdown();
    server.wait();
    std::printf("over http: %s\n", answer.c_str());
    return answer.starts_with("HTTP/1.1 202") && answer.ends_with(R"({"batchref":"b2"})") &&
           views::allocations("o2", store.allocations()).size() == 1 && publisher.published().size() == 1;
}
#endif

#ifdef CONSUMER_HAS_CSV
// The CSV adapter links and works: a fresh directory, one allocation written to its allocations.csv.
template <typename Notifier, typename Publisher>
bool allocates_on_csv(Notifier& notifier, Publisher& publisher) {
    using namespace allocation;
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
    return written;
}
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
    if (!allocates_on_csv(notifier, publisher)) return 1;
#endif
#ifdef CONSUMER_HAS_HTTP
    if (!allocates_over_http(store)) return 1;
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
    std::printf("every check passed\n");  // what the tests look for: an early return never prints it
    return 0;
}
