// Real processes for tests: servers the test starts (allocation-server, redis-server, postgres) and programs it
// runs to completion. Each child dies with the test (PR_SET_PDEATHSIG) and is stopped by its owner's destructor,
// so a failing test leaves nothing running.
#pragma once

#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace allocation::testing {

using namespace std::chrono_literals;

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

inline std::string read_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

inline void write_file(const std::filesystem::path& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
}

/// The account a child runs as: nobody in particular (the test's own), or a named user when the test is root
/// (initdb and postgres refuse to run as root).
struct RunAs {
    std::string user;  // empty: the test's own user

    /// The uid and gid to switch to, looked up before fork (getpwnam is not async-signal-safe); none when there
    /// is nothing to switch (no user named, or the test is not root and so cannot switch anyway).
    std::optional<std::pair<uid_t, gid_t>> ids() const {
        if (user.empty() || ::geteuid() != 0) return std::nullopt;
        const passwd* entry = ::getpwnam(user.c_str());
        if (entry == nullptr) throw std::runtime_error("no such user: " + user);
        return std::pair{entry->pw_uid, entry->pw_gid};
    }
};

namespace detail {

/// Forks and execs `program` with `args`, stdout and stderr appended to `out` and `err`, as `ids` when given.
/// The child gets SIGKILL when the test dies.
inline pid_t spawn(const std::string& program, const std::vector<std::string>& args, const std::filesystem::path& out,
                   const std::filesystem::path& err, std::optional<std::pair<uid_t, gid_t>> ids, int open_flags) {
    std::vector<std::string> argv_storage{program};
    argv_storage.insert(argv_storage.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& arg : argv_storage) argv.push_back(arg.data());
    argv.push_back(nullptr);
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid != 0) return pid;
    if (ids && (::setgroups(0, nullptr) != 0 || ::setgid(ids->second) != 0 || ::setuid(ids->first) != 0)) {
        ::_exit(126);
    }
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // after setuid, which clears it
    if (::getppid() != parent) ::_exit(127);  // the test died before we got here
    const int o = ::open(out.c_str(), O_WRONLY | O_CREAT | open_flags, 0644);
    const int e = out == err ? o : ::open(err.c_str(), O_WRONLY | O_CREAT | open_flags, 0644);
    if (o >= 0) ::dup2(o, STDOUT_FILENO);
    if (e >= 0) ::dup2(e, STDERR_FILENO);
    ::execv(program.c_str(), argv.data());
    ::_exit(127);
}

}  // namespace detail

/// A child process with stdout and stderr sent to one log file.
class Process {
public:
    Process(const std::string& program, const std::vector<std::string>& args, const std::filesystem::path& log,
            const RunAs& as = {})
        : log_(log), pid_(detail::spawn(program, args, log, log, as.ids(), O_APPEND)) {}
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
    std::filesystem::path log_;
    pid_t pid_ = -1;
    std::optional<int> exit_status_;
};

/// Runs a program to completion; returns its exit code, its stdout and its stderr.
struct RunResult {
    int exit_code = -1;
    std::string out;
    std::string err;
};

/// Runs `program` to completion with its output in two files under `scratch` (which `as` must be able to write).
inline RunResult run(const std::string& program, const std::vector<std::string>& args,
                     const std::filesystem::path& scratch, const RunAs& as = {}) {
    const std::filesystem::path out = scratch / "run.out", err = scratch / "run.err";
    const pid_t pid = detail::spawn(program, args, out, err, as.ids(), O_TRUNC);
    int status = 0;
    ::waitpid(pid, &status, 0);
    RunResult result{WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), read_file(out), read_file(err)};
    std::error_code ignored;
    std::filesystem::remove(out, ignored);
    std::filesystem::remove(err, ignored);
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

}  // namespace allocation::testing
