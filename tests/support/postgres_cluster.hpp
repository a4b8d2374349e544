// A PostgreSQL cluster of the test's own: initdb into a fresh directory, postgres on a free loopback port with its
// unix socket inside that directory, trust authentication, one database created. The destructor stops the server
// and removes the directory, whatever the test did; if the test process dies, the server gets SIGKILL with it.
// As root, initdb and postgres run as the `postgres` account (they refuse root), which owns the directory.
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "child_processes.hpp"
#include "temp_dir.hpp"

#ifndef ALLOCATION_POSTGRES_BINDIR
#error "link the allocation_postgres_cluster target: it says where initdb and postgres are"
#endif

namespace allocation::testing {

class PostgresCluster {
public:
    struct Options {
        std::string database = "allocation";  // created at start; uri() names it
        bool durable = false;  // false: fsync off (tests); true: the server's defaults (benchmarks)
        std::vector<std::string> settings;  // more "name=value" server settings
    };

    PostgresCluster() : PostgresCluster(Options{}) {}
    explicit PostgresCluster(Options options)
        : options_(std::move(options)), dir_((remove_leftovers(), "allocation-postgres")), port_(free_port()) {
        own_directory();
        check(run(bin("initdb"), {"-D", data_dir(), "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8",
                                  "--locale=C"},
                  dir_.path, as_),
              "initdb");
        start();
        create_database(options_.database);
    }
    PostgresCluster(const PostgresCluster&) = delete;
    PostgresCluster& operator=(const PostgresCluster&) = delete;
    ~PostgresCluster() { stop(); }  // then dir_ removes the data

    int port() const noexcept { return port_; }
    /// "postgresql://postgres@127.0.0.1:PORT/<database>", the database created at start unless named.
    std::string uri() const { return uri(options_.database); }
    std::string uri(const std::string& database) const {
        return "postgresql://postgres@127.0.0.1:" + std::to_string(port_) + "/" + database;
    }
    /// The directory that holds the data, the socket and the log (removed by the destructor).
    const std::filesystem::path& directory() const noexcept { return dir_.path; }
    bool running() { return server_ && server_->running(); }

    /// Starts the server (again) on the same port and data; returns once it accepts connections.
    void start() {
        if (running()) return;
        server_.emplace(bin("postgres"), server_arguments(), dir_.path / "postgres.log", as_);
        const bool ready = wait_until([&] { return !server_->running() || accepting(); }, 30s);
        if (!ready || !server_->running()) throw std::runtime_error("postgres did not start; its log:\n" + log());
    }

    /// Whether the server accepts connections now (pg_isready's answer).
    bool accepting() const {
        return run(bin("pg_isready"), {"-q", "-h", "127.0.0.1", "-p", std::to_string(port_)}, dir_.path).exit_code == 0;
    }

    /// Stops the server (fast shutdown: open connections are cut), keeping its data for start().
    void stop() noexcept {
        if (!server_) return;
        if (!server_->stop(SIGINT, 20s)) server_->kill();
        server_.reset();
    }

    /// Creates an empty database; returns its URI.
    std::string create_database(const std::string& name) {
        sql("CREATE DATABASE \"" + name + "\"", "postgres");
        return uri(name);
    }

    /// Runs SQL through psql in `database`; returns its unaligned, tuples-only output (rows on lines, fields by |).
    std::string sql(const std::string& statements, const std::string& database) {
        auto result = run(bin("psql"), {"-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p",
                                        std::to_string(port_), "-U", "postgres", "-d", database, "-c", statements},
                          dir_.path);
        return check(result, "psql -c \"" + statements + "\"").out;
    }
    std::string sql(const std::string& statements) { return sql(statements, options_.database); }

    /// The server's log so far (for failure messages).
    std::string log() const { return read_file(dir_.path / "postgres.log"); }

private:
    static std::string bin(const std::string& program) { return std::string(ALLOCATION_POSTGRES_BINDIR) + "/" + program; }

    std::string data_dir() const { return (dir_.path / "data").string(); }

    std::vector<std::string> server_arguments() const {
        std::vector<std::string> args{"-D", data_dir(), "-p", std::to_string(port_), "-k", dir_.path.string(),
                                      "-c", "listen_addresses=127.0.0.1", "-c", "shared_buffers=32MB"};
        if (!options_.durable) args.insert(args.end(), {"-c", "fsync=off", "-c", "full_page_writes=off"});
        for (const auto& setting : options_.settings) args.insert(args.end(), {"-c", setting});
        return args;
    }

    /// Removes the directories of clusters whose test process was killed (a destructor that never ran): those of
    /// a process that is gone and whose server is gone too (postmaster.pid names a process that is not running).
    static void remove_leftovers() {
        namespace fs = std::filesystem;
        const std::string prefix = "allocation-postgres-";
        std::error_code error;
        for (const auto& entry : fs::directory_iterator(fs::temp_directory_path(), error)) {
            const std::string name = entry.path().filename().string();
            if (name.rfind(prefix, 0) != 0) continue;
            const std::string owner = name.substr(prefix.size(), name.find('-', prefix.size()) - prefix.size());
            std::ifstream pid_file(entry.path() / "data" / "postmaster.pid");
            std::string server;
            std::getline(pid_file, server);
            if (alive(owner) || alive(server)) continue;
            fs::remove_all(entry.path(), error);
        }
    }
    static bool alive(const std::string& pid) {
        if (pid.empty() || pid.find_first_not_of("0123456789") != std::string::npos) return false;
        return ::kill(static_cast<pid_t>(std::stol(pid)), 0) == 0 || errno == EPERM;
    }

    /// As root, hands the directory to the account the server runs as (initdb wants to own what it fills).
    void own_directory() {
        const auto ids = as_.ids();
        if (ids && ::chown(dir_.path.c_str(), ids->first, ids->second) != 0) {
            throw std::runtime_error("cannot give " + dir_.path.string() + " to " + as_.user);
        }
    }

    static const RunResult& check(const RunResult& result, const std::string& what) {
        if (result.exit_code != 0) {
            throw std::runtime_error(what + " failed (exit " + std::to_string(result.exit_code) + "): " + result.err +
                                     result.out);
        }
        return result;
    }

    Options options_;
    TempDir dir_;
    int port_;
    RunAs as_{"postgres"};
    std::optional<Process> server_;
};

}  // namespace allocation::testing
