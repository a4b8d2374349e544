// The SQLite adapter when its storage fails under it: the file deleted while open, writes that the disk refuses.
#include <sys/resource.h>

#include <csignal>
#include <filesystem>
#include <string>

#include "allocation/adapters/memory/recording.hpp"
#include "allocation/adapters/sqlite/sqlite.hpp"
#include "allocation/allocation.hpp"
#include "catch.hpp"
#include "recording_delivery.hpp"
#include "sqlite_files.hpp"

using namespace allocation;
using allocation::testing::TempDir;
namespace fs = std::filesystem;

namespace {

struct System {
    explicit System(const std::string& path)
        : db(sqlite::Options{path}), bus(bootstrap(sqlite::UnitOfWorkFactory(db), delivery.relay)) {}
    sqlite::Database db;
    sqlite::Outbox outbox{db};
    testing::RecordingDelivery<sqlite::Outbox> delivery{outbox};
    MessageBus<sqlite::UnitOfWorkFactory, decltype(delivery.relay)> bus;
};

/// Limits the size of every file this process writes to `bytes` (writes beyond it fail with EFBIG, SIGXFSZ
/// ignored) until the end of the scope.
class FileSizeLimit {
public:
    explicit FileSizeLimit(rlim_t bytes) {
        old_handler_ = std::signal(SIGXFSZ, SIG_IGN);
        REQUIRE(::getrlimit(RLIMIT_FSIZE, &old_) == 0);
        const rlimit limited{bytes, old_.rlim_max};
        REQUIRE(::setrlimit(RLIMIT_FSIZE, &limited) == 0);
    }
    FileSizeLimit(const FileSizeLimit&) = delete;
    FileSizeLimit& operator=(const FileSizeLimit&) = delete;
    ~FileSizeLimit() {
        ::setrlimit(RLIMIT_FSIZE, &old_);
        std::signal(SIGXFSZ, old_handler_);
    }

private:
    rlimit old_{};
    void (*old_handler_)(int) = nullptr;
};

}  // namespace

TEST_CASE("a database file deleted while open: no commit after it is reported kept, and every later one refused") {
    TempDir dir;
    const std::string path = dir.file("deleted.db");
    System system(path);
    system.bus.handle(commands::CreateBatch{"b1", "LAMP", 100, std::nullopt});
    system.bus.handle(commands::Allocate{"o1", "LAMP", 1});
    system.db.check();

    for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(path + suffix);

    CHECK_THROWS_WITH(system.bus.handle(commands::Allocate{"o2", "LAMP", 1}),
                      Catch::Contains("was deleted or replaced while the database was open"));
    CHECK_THROWS_AS(system.bus.handle(commands::Allocate{"o3", "LAMP", 1}), StorageError);
    CHECK_THROWS_WITH(system.db.check(), Catch::Contains("deleted or replaced"));
}

TEST_CASE("a readiness check notices a deleted database file before any write does") {
    TempDir dir;
    const std::string path = dir.file("deleted.db");
    System system(path);
    system.bus.handle(commands::CreateBatch{"b1", "LAMP", 100, std::nullopt});
    fs::remove(path);
    CHECK_THROWS_WITH(system.db.check(), Catch::Contains("deleted or replaced"));
    CHECK_THROWS_AS(system.bus.handle(commands::Allocate{"o1", "LAMP", 1}), StorageError);
}

TEST_CASE("while the disk refuses writes the readiness check fails, and passes again once a write succeeds") {
    TempDir dir;
    const std::string path = dir.file("full.db");
    System system(path);
    system.bus.handle(commands::CreateBatch{"b1", "LAMP", 100000, std::nullopt});
    system.db.check();
    {
        // The log grows with each commit (no checkpoint yet): the next one needs a byte past the limit.
        FileSizeLimit limit(static_cast<rlim_t>(fs::file_size(path + "-wal")));
        CHECK_THROWS_WITH(system.bus.handle(commands::Allocate{"o1", "LAMP", 1}),
                          Catch::Contains("commit failed, nothing was written"));
        CHECK_THROWS_WITH(system.db.check(), Catch::Contains("writes are failing"));
        CHECK_THROWS_WITH(system.db.check(), Catch::Contains("writes are failing"));
    }
    system.db.check();  // its own write succeeds now
    system.bus.handle(commands::Allocate{"o1", "LAMP", 1});
    CHECK(testing::count(path, "SELECT COUNT(*) FROM order_lines WHERE orderid = 'o1'") == 1);
}
