// Real processes for end-to-end tests: the service, redis-server, the CLI. Each child dies with the test
// (PR_SET_PDEATHSIG) and is stopped by its owner's destructor, so a failing test leaves nothing running.
#pragma once

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "http_client.hpp"

namespace e2e {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

/// A loopback TCP port that nothing listens on right now (the kernel's choice).
inline int free_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) throw std::runtime_error("socket() failed");
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof addr;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
        ::close(fd);
        throw std::runtime_error("cannot find a free port");
    }
    ::close(fd);
    return ntohs(addr.sin_port);
}

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

inline std::string read_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

inline void write_file(const fs::path& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
}

/// A child process with stdout and stderr sent to one log file.
class Process {
public:
    Process(const std::string& program, const std::vector<std::string>& args, const fs::path& log) : log_(log) {
        std::vector<std::string> argv_storage{program};
        argv_storage.insert(argv_storage.end(), args.begin(), args.end());
        std::vector<char*> argv;
        for (auto& arg : argv_storage) argv.push_back(arg.data());
        argv.push_back(nullptr);
        const pid_t parent = ::getpid();
        pid_ = ::fork();
        if (pid_ < 0) throw std::runtime_error("fork failed");
        if (pid_ == 0) {
            ::prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (::getppid() != parent) ::_exit(127);  // the test died before we got here
            int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
            if (fd >= 0) {
                ::dup2(fd, STDOUT_FILENO);
                ::dup2(fd, STDERR_FILENO);
                ::close(fd);
            }
            ::execv(program.c_str(), argv.data());
            ::_exit(127);
        }
    }
    Process(const Process&) = delete;
    Process& operator=(const Process&) = delete;
    ~Process() { kill(); }

    pid_t pid() const noexcept { return pid_; }
    bool running() {
        if (exit_status_) return false;
        int status = 0;
        if (::waitpid(pid_, &status, WNOHANG) == pid_) {
            exit_status_ = status;
            return false;
        }
        return true;
    }

    /// Sends `signal` and waits up to `timeout` for the exit; returns the wait status, or nothing on timeout.
    std::optional<int> stop(int signal = SIGTERM, std::chrono::milliseconds timeout = 10s) {
        if (!running()) return exit_status_;
        ::kill(pid_, signal);
        return wait(timeout);
    }

    /// Waits up to `timeout` for the exit, sending nothing; returns the wait status, or nothing on timeout.
    std::optional<int> wait(std::chrono::milliseconds timeout) {
        auto deadline = std::chrono::steady_clock::now() + timeout;
        while (std::chrono::steady_clock::now() < deadline) {
            if (!running()) return exit_status_;
            std::this_thread::sleep_for(10ms);
        }
        return std::nullopt;
    }

    /// Stops the process for good (SIGKILL after a grace period).
    void kill() noexcept {
        if (pid_ <= 0) return;
        if (!stop(SIGTERM, 5s)) {
            ::kill(pid_, SIGKILL);
            int status = 0;
            ::waitpid(pid_, &status, 0);
            exit_status_ = status;
        }
    }

    std::string log() const { return read_file(log_); }

private:
    fs::path log_;
    pid_t pid_ = -1;
    std::optional<int> exit_status_;
};

/// Runs a program to completion; returns its exit code, its stdout and its stderr.
struct RunResult {
    int exit_code = -1;
    std::string out;
    std::string err;
};

inline RunResult run(const std::string& program, const std::vector<std::string>& args, const fs::path& scratch) {
    const fs::path out = scratch / "run.out", err = scratch / "run.err";
    std::vector<std::string> argv_storage{program};
    argv_storage.insert(argv_storage.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& arg : argv_storage) argv.push_back(arg.data());
    argv.push_back(nullptr);
    pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        ::dup2(o, STDOUT_FILENO);
        ::dup2(e, STDERR_FILENO);
        ::execv(program.c_str(), argv.data());
        ::_exit(127);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    RunResult result{WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), read_file(out), read_file(err)};
    fs::remove(out);
    fs::remove(err);
    return result;
}

/// Polls `ready` every 20 ms until it is true or `timeout` passes.
template <typename Ready>
bool wait_until(Ready&& ready, std::chrono::milliseconds timeout = 15s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        if (ready()) return true;
        std::this_thread::sleep_for(20ms);
    }
    return ready();
}

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
