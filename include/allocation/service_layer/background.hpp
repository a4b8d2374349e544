// What every background loop of the library and the service shares: one retry policy (Backoff) and one way to
// wait that a stop request or a wake-up cuts short (Wakeup), for threads that are std::jthreads.
#pragma once

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <random>
#include <stop_token>

namespace allocation {

/// The wait before a retry: capped, exponential, with jitter. A value type; every retry loop uses one.
///
/// After the `failures`th failure in a row (from 1) the wait is first * 2^(failures - 1), at most `cap`, then
/// shortened by `jitter` times a random fraction of itself, so that what failed together is not all tried again
/// at the same moment.
struct Backoff {
    std::chrono::microseconds first{std::chrono::milliseconds(100)};
    std::chrono::microseconds cap{std::chrono::seconds(60)};
    /// How much of each wait is random, from 0 (none) to 1.
    double jitter = 0.5;

    /// The wait after `failures` failures, with `random` in [0, 1] choosing how much jitter takes off.
    std::chrono::microseconds delay(int failures, double random) const noexcept {
        using std::chrono::microseconds;
        const microseconds top = std::max(cap, first);
        microseconds wait = first;
        for (int i = 1; i < failures && wait < top; ++i) wait = std::min<microseconds>(wait * 2, top);
        const double keep = 1.0 - std::clamp(jitter, 0.0, 1.0) * std::clamp(random, 0.0, 1.0);
        return microseconds(static_cast<microseconds::rep>(static_cast<double>(wait.count()) * keep));
    }

    /// The same, with a random fraction from this thread's own engine.
    std::chrono::microseconds delay(int failures) const { return delay(failures, random_fraction()); }

    /// A number drawn uniformly from [0, 1) by an engine of this thread, seeded by std::random_device.
    static double random_fraction() {
        thread_local std::mt19937_64 engine{std::random_device{}()};
        return std::uniform_real_distribution<double>(0.0, 1.0)(engine);
    }
};

/// A wait that ends early when its thread is asked to stop (std::jthread's stop token) or when another thread
/// calls wake(). A wake-up that comes while nobody waits is kept for the next wait, so none is lost.
class Wakeup {
public:
    /// Ends the current (or next) wait.
    void wake() noexcept {
        {
            std::lock_guard lock(mutex_);
            woken_ = true;
        }
        condition_.notify_all();
    }

    /// Waits for wake() or a stop request, however long that takes; false when a stop was requested.
    bool wait(std::stop_token stop) {
        std::unique_lock lock(mutex_);
        condition_.wait(lock, stop, [this] { return woken_; });
        woken_ = false;
        return !stop.stop_requested();
    }

    /// Waits for `wait`, wake() or a stop request, whichever comes first; false when a stop was requested.
    template <typename Rep, typename Period>
    bool wait_for(std::stop_token stop, std::chrono::duration<Rep, Period> wait) {
        std::unique_lock lock(mutex_);
        condition_.wait_for(lock, stop, wait, [this] { return woken_; });
        woken_ = false;
        return !stop.stop_requested();
    }

private:
    std::mutex mutex_;
    std::condition_variable_any condition_;
    bool woken_ = false;
};

}  // namespace allocation
