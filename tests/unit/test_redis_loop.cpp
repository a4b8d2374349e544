// The Redis consumers' thread (redis::detail::ConsumerLoop), without a Redis: a std::jthread that retries a failing
// session with the one Backoff, and stops at once, even in a long wait.
#include <atomic>
#include <chrono>
#include <mutex>
#include <stop_token>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "allocation/adapters/redis/redis.hpp"
#include "catch.hpp"

using namespace allocation;
using namespace std::chrono_literals;

namespace {

// The lines a loop logs, for another thread to read.
struct Lines {
    std::mutex mutex;
    std::vector<std::string> lines;
    redis::Log log() {
        return [this](std::string_view line) {
            std::lock_guard lock(mutex);
            lines.emplace_back(line);
        };
    }
    std::vector<std::string> taken() {
        std::lock_guard lock(mutex);
        return lines;
    }
};

bool eventually(auto condition) {
    for (auto deadline = std::chrono::steady_clock::now() + 10s; std::chrono::steady_clock::now() < deadline;) {
        if (condition()) return true;
        std::this_thread::sleep_for(1ms);
    }
    return false;
}

}  // namespace

TEST_CASE("a failing session is retried after the Backoff's waits, counted again after a session that connected",
          "[redis][background]") {
    Lines lines;
    redis::detail::ConsumerLoop loop("test", {"127.0.0.1", 1}, lines.log(), Backoff{.first = 1ms, .cap = 4ms, .jitter = 0});
    int sessions = 0;  // only the loop's thread touches it
    loop.start([&](std::stop_token) -> std::string {
        if (++sessions == 5) loop.connected = true;  // the fifth got as far as consuming
        return "failure " + std::to_string(sessions);
    });
    REQUIRE(eventually([&] { return lines.taken().size() >= 6; }));
    loop.stop();
    const auto seen = lines.taken();
    CHECK(seen[0] == "test: failure 1; retrying 127.0.0.1:1 in 1 ms");
    CHECK(seen[1] == "test: failure 2; retrying 127.0.0.1:1 in 2 ms");
    CHECK(seen[2] == "test: failure 3; retrying 127.0.0.1:1 in 4 ms");
    CHECK(seen[3] == "test: failure 4; retrying 127.0.0.1:1 in 4 ms");  // capped
    CHECK(seen[4] == "test: failure 5; retrying 127.0.0.1:1 in 1 ms");  // it had connected
    CHECK(seen[5] == "test: failure 6; retrying 127.0.0.1:1 in 2 ms");
}

TEST_CASE("stop() ends the loop's wait at once, and a session sees the stop request", "[redis][background]") {
    Lines lines;
    std::atomic<bool> session_started{false}, stopped_session{false};
    {
        redis::detail::ConsumerLoop loop("test", {"127.0.0.1", 1}, lines.log(), Backoff{.first = 1h});
        loop.start([&](std::stop_token) -> std::string { return "down"; });
        REQUIRE(eventually([&] { return lines.taken().size() == 1; }));  // now waiting for up to an hour
        const auto begin = std::chrono::steady_clock::now();
        loop.stop();
        CHECK(std::chrono::steady_clock::now() - begin < 5s);
    }
    {
        redis::detail::ConsumerLoop loop("test", {"127.0.0.1", 1}, lines.log(), Backoff{});
        loop.start([&](std::stop_token stop) -> std::string {
            session_started = true;
            while (!stop.stop_requested()) std::this_thread::sleep_for(1ms);  // a session consuming
            stopped_session = true;
            return {};
        });
        REQUIRE(eventually([&] { return session_started.load(); }));
    }  // destroyed: stopped and joined
    CHECK(stopped_session);
    CHECK(lines.taken().size() == 1);  // a session ended by a stop is not retried, nor logged
}
