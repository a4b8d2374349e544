// Real processes for end-to-end tests: the service, redis-server, the CLI (support/child_processes.hpp starts and
// stops them), and the directories they work in.
#pragma once

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "http_client.hpp"
#include "support/child_processes.hpp"

namespace e2e {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

using allocation::testing::free_port;
using allocation::testing::Process;
using allocation::testing::read_file;
using allocation::testing::run;
using allocation::testing::RunResult;
using allocation::testing::wait_until;
using allocation::testing::write_file;

/// A fresh directory under the system's temporary directory, removed with everything in it.
class TempDir {
public:
    TempDir() {
        std::string pattern = (fs::temp_directory_path() / "allocation-e2e-XXXXXX").string();
        if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
        path_ = pattern;
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    ~TempDir() {
        std::error_code ignored;
        fs::remove_all(path_, ignored);
    }
    const fs::path& path() const noexcept { return path_; }
    fs::path operator/(const std::string& name) const { return path_ / name; }

private:
    fs::path path_;
};

/// What the Server constructor waits for.
enum class Await {
    started,    // GET /ready no longer says "starting": the storage is open
    listening,  // GET /health answers
};

/// The real allocation-server on a free loopback port.
class Server {
public:
    explicit Server(std::vector<std::string> extra_args, const fs::path& log = {}, Await await = Await::started)
        : port_(free_port()), log_(log.empty() ? scratch_ / "server.log" : log),
          process_(ALLOCATION_SERVER_PATH, with_port(std::move(extra_args), port_), log_) {
        HttpClient client(port_, 1s);
        bool ready = wait_until([&] {
            if (!process_.running()) return true;
            auto res = client.Get(await == Await::started ? "/ready" : "/health");
            if (!res) return false;
            return await == Await::listening ||
                   nlohmann::json::parse(res->body, nullptr, false).value("status", "") != "starting";
        });
        if (!ready || !process_.running()) {
            throw std::runtime_error("allocation-server did not start; its log:\n" + process_.log());
        }
    }

    int port() const noexcept { return port_; }
    Process& process() noexcept { return process_; }
    std::string log() const { return process_.log(); }
    /// A client of this server.
    HttpClient client() const { return HttpClient(port_); }

private:
    static std::vector<std::string> with_port(std::vector<std::string> args, int port) {
        args.insert(args.end(), {"--host", "127.0.0.1", "--port", std::to_string(port)});
        return args;
    }

    TempDir scratch_;
    int port_;
    fs::path log_;
    Process process_;
};

}  // namespace e2e
