// The PostgreSQL cluster that tests start for themselves: it accepts connections, keeps its data across a stop
// and a start, refuses connections while stopped, isolates databases, and leaves nothing behind.
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "catch.hpp"
#include "postgres_cluster.hpp"

using allocation::testing::PostgresCluster;
using allocation::testing::run;
using allocation::testing::TempDir;

namespace {

/// Whether anything accepts PostgreSQL connections on 127.0.0.1:port, asked without a cluster object.
bool accepting(int port) {
    TempDir scratch("allocation-pg-isready");
    return run(std::string(ALLOCATION_POSTGRES_BINDIR) + "/pg_isready",
               {"-q", "-h", "127.0.0.1", "-p", std::to_string(port)}, scratch.path)
               .exit_code == 0;
}

}  // namespace

TEST_CASE("postgres cluster: answers SQL in the database it created, named by its URI") {
    PostgresCluster cluster;
    CHECK(cluster.uri() == "postgresql://postgres@127.0.0.1:" + std::to_string(cluster.port()) + "/allocation");
    CHECK(cluster.sql("SELECT current_database() || ' ' || current_user") == "allocation postgres\n");
    CHECK(cluster.sql("SHOW listen_addresses") == "127.0.0.1\n");
}

TEST_CASE("postgres cluster: keeps its data across stop and start, and refuses connections while stopped") {
    PostgresCluster cluster;
    cluster.sql("CREATE TABLE kept (value integer); INSERT INTO kept VALUES (42)");
    cluster.stop();
    CHECK_FALSE(cluster.running());
    CHECK_FALSE(cluster.accepting());
    CHECK_THROWS_WITH(cluster.sql("SELECT 1"), Catch::Contains("psql"));
    cluster.start();
    CHECK(cluster.accepting());
    CHECK(cluster.sql("SELECT value FROM kept") == "42\n");
}

TEST_CASE("postgres cluster: a created database is empty and separate from the first one") {
    PostgresCluster cluster;
    cluster.sql("CREATE TABLE only_here (value integer)");
    const std::string uri = cluster.create_database("isolated");
    CHECK(uri == cluster.uri("isolated"));
    CHECK(cluster.sql("SELECT count(*) FROM pg_tables WHERE tablename = 'only_here'", "isolated") == "0\n");
    CHECK(cluster.sql("SELECT count(*) FROM pg_tables WHERE tablename = 'only_here'") == "1\n");
}

TEST_CASE("postgres cluster: its destructor stops the server and removes its directory") {
    std::filesystem::path directory;
    int port = 0;
    {
        PostgresCluster cluster;
        directory = cluster.directory();
        port = cluster.port();
        REQUIRE(std::filesystem::exists(directory / "data" / "PG_VERSION"));
        REQUIRE(cluster.accepting());
    }
    CHECK_FALSE(std::filesystem::exists(directory));
    CHECK_FALSE(accepting(port));
}

TEST_CASE("postgres cluster: durable clusters keep fsync on, test clusters turn it off") {
    PostgresCluster quick;
    CHECK(quick.sql("SHOW fsync") == "off\n");
    PostgresCluster durable({.database = "bench", .durable = true, .settings = {"synchronous_commit=off"}});
    CHECK(durable.sql("SHOW fsync") == "on\n");
    CHECK(durable.sql("SHOW synchronous_commit") == "off\n");
    CHECK(durable.uri().ends_with("/bench"));
}

TEST_CASE("postgres cluster: the directory of a cluster whose test was killed is removed by the next one") {
    // What a killed test leaves: its directory, named after a process that is gone, with no server running in it.
    const pid_t gone = ::fork();
    if (gone == 0) ::_exit(0);
    ::waitpid(gone, nullptr, 0);
    const auto leftover = std::filesystem::temp_directory_path() / ("allocation-postgres-" + std::to_string(gone) + "-0");
    std::filesystem::create_directories(leftover / "data");
    std::ofstream(leftover / "data" / "postmaster.pid") << gone << "\n";
    PostgresCluster cluster;
    CHECK_FALSE(std::filesystem::exists(leftover));
    CHECK(std::filesystem::exists(cluster.directory()));  // its own, named after a living process, stays
}
