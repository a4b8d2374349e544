// What every background loop shares (service_layer/background.hpp): the Backoff's waits, and Wakeup's ways to end one.
#include <chrono>
#include <stop_token>
#include <thread>

#include "allocation/service_layer/background.hpp"
#include "catch.hpp"

using namespace allocation;
using namespace std::chrono_literals;

TEST_CASE("a Backoff doubles from its first wait up to its cap, and jitter only shortens a wait", "[background]") {
    const Backoff backoff{.first = 100ms, .cap = 1s, .jitter = 0.5};
    CHECK(backoff.delay(1, 0.0) == 100ms);
    CHECK(backoff.delay(2, 0.0) == 200ms);
    CHECK(backoff.delay(4, 0.0) == 800ms);
    CHECK(backoff.delay(5, 0.0) == 1s);
    CHECK(backoff.delay(50, 0.0) == 1s);
    CHECK(backoff.delay(1, 1.0) == 50ms);
    for (int i = 0; i < 100; ++i) {
        const auto wait = backoff.delay(2);
        CHECK((wait >= 100ms && wait <= 200ms));
    }
}

TEST_CASE("Wakeup::wait ends on wake(), kept when it came first, and on a stop request", "[background]") {
    Wakeup wakeup;
    std::stop_source source;
    wakeup.wake();  // nobody waits yet: kept
    CHECK(wakeup.wait(source.get_token()));
    const auto timed = std::chrono::steady_clock::now();
    CHECK(wakeup.wait_for(source.get_token(), 20ms));  // no stop requested
    CHECK(std::chrono::steady_clock::now() - timed >= 20ms);  // the wake-up was used up: this wait ran its course
    std::jthread stopper([&source] {
        std::this_thread::sleep_for(20ms);
        source.request_stop();
    });
    const auto begin = std::chrono::steady_clock::now();
    CHECK_FALSE(wakeup.wait(source.get_token()));  // would wait forever without the stop
    CHECK(std::chrono::steady_clock::now() - begin < 5s);
}
