// A real SMTP server for the tests: Debian's python3-aiosmtpd on a free loopback port, printing every message
// it accepts (its envelope, then its headers and body) to its log.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "processes.hpp"

namespace e2e {

/// Whether something accepts TCP connections on 127.0.0.1:port now.
inline bool accepts_connections(int port) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return false;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    return ok;
}

class SmtpServer {
public:
    explicit SmtpServer(int port = free_port()) : port_(port) { start(); }
    int port() const noexcept { return port_; }
    std::string url() const { return "smtp://127.0.0.1:" + std::to_string(port_); }

    void start() {
        write_file(dir_ / "smtp.py", script);
        process_.emplace("/usr/bin/python3", std::vector<std::string>{"-u", (dir_ / "smtp.py").string(), std::to_string(port_)},
                         dir_ / "smtp.log");
        if (!wait_until([&] { return accepts_connections(port_); })) {
            throw std::runtime_error("aiosmtpd did not start (apt-get install python3-aiosmtpd): " + process_->log());
        }
    }
    void stop() { process_.reset(); }

    /// Everything the server printed: each message it accepted, with its headers.
    std::string received() const { return read_file(dir_ / "smtp.log"); }

private:
    static constexpr const char* script = R"(import signal, sys
from aiosmtpd.controller import Controller

class Printer:
    async def handle_DATA(self, server, session, envelope):
        print("MAIL FROM:" + envelope.mail_from)
        print("RCPT TO:" + ",".join(envelope.rcpt_tos))
        print(envelope.content.decode("utf-8", "replace"))
        print("END OF MESSAGE", flush=True)
        return "250 OK"

signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
controller = Controller(Printer(), hostname="127.0.0.1", port=int(sys.argv[1]))
controller.start()
signal.sigwait({signal.SIGTERM, signal.SIGINT})
controller.stop()
)";

    int port_;
    TempDir dir_;
    std::optional<Process> process_;
};

}  // namespace e2e
