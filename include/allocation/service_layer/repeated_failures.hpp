// Which failures of one kind deserve a line of the log while they repeat: the first, then at most one every so
// often, and their end.
#pragma once

#include <atomic>
#include <cstddef>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

namespace allocation {

/// Counts the failures of one kind (a relay's deliveries, say) and decides which to report, so that a broker away
/// for a minute costs a few lines, not one per attempt: the first failure after a success at once, then at most one
/// every `every`, each saying how many went unsaid since the one before; at the next success, how many there were
/// in all and the last error. Thread-safe; a success that follows no failure costs one atomic load.
template <typename Clock>
class RepeatedFailures {
public:
    using Duration = typename Clock::duration;
    using TimePoint = typename Clock::time_point;

    /// What the failures were when they ended.
    struct Ended {
        std::size_t failures = 0;
        std::string last_error;
    };

    explicit RepeatedFailures(Duration every) : every_(every) {}

    /// A failure at `now`, with its error: nothing when it goes unsaid, else how many went unsaid before it (0 for
    /// the first of a run).
    std::optional<std::size_t> failed(TimePoint now, std::string error) {
        std::lock_guard lock(mutex_);
        last_error_ = std::move(error);
        const bool first = failures_++ == 0;
        failing_.store(true, std::memory_order_relaxed);
        if (!first && now - said_at_ < every_) {
            ++unsaid_;
            return std::nullopt;
        }
        said_at_ = now;
        return std::exchange(unsaid_, 0);
    }

    /// A success: how the failures before it went, when there were any.
    std::optional<Ended> succeeded() {
        if (!failing_.load(std::memory_order_relaxed)) return std::nullopt;
        std::lock_guard lock(mutex_);
        if (failures_ == 0) return std::nullopt;  // another thread reported the end meanwhile
        failing_.store(false, std::memory_order_relaxed);
        unsaid_ = 0;
        return Ended{std::exchange(failures_, 0), std::move(last_error_)};
    }

private:
    Duration every_;
    std::mutex mutex_;
    std::size_t failures_ = 0;  // guarded by mutex_, as what follows
    std::size_t unsaid_ = 0;
    TimePoint said_at_{};
    std::string last_error_;
    std::atomic<bool> failing_{false};  // failures_ > 0, read without the lock
};

}  // namespace allocation
