// The relay: hands the outbox's rows to their handlers, at least once, and retries failures with capped
// exponential backoff and jitter; on a thread of its own, or one step at a time.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <functional>
#include <mutex>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "allocation/domain/events.hpp"
#include "allocation/ports/notifications.hpp"
#include "allocation/ports/outbox.hpp"
#include "allocation/service_layer/handlers.hpp"

namespace allocation {

/// Receives what went wrong in a relay: what it was doing ("delivering LAMP:...", "claiming rows") and why.
using RelayErrorSink = std::function<void(std::string_view doing, const std::exception& error)>;

/// Writes one line to stderr: the default relay error sink.
inline void print_relay_error(std::string_view doing, const std::exception& error) {
    fmt::print(stderr, "allocation: relay: {}: {}\n", doing, error.what());
}

struct RelayOptions {
    /// Names this relay in its leases; it must differ between the relays of one database. Empty: a random name.
    std::string owner;
    /// Rows claimed at once.
    std::size_t batch_size = 64;
    /// How long a claimed row stays this relay's; longer than a handler ever takes, or another relay may claim
    /// the row meanwhile and deliver it again.
    std::chrono::milliseconds lease{std::chrono::seconds(30)};
    /// The wait after a row's first failure; it doubles on each failure of that row, up to `max_retry`.
    std::chrono::milliseconds first_retry{100};
    std::chrono::milliseconds max_retry{std::chrono::seconds(60)};
    /// How much of each wait is random, from 0 (none) to 1: the wait is shortened by up to this fraction, so
    /// that rows that failed together are not all tried again at the same moment.
    double jitter = 0.5;
    /// On its thread, the relay looks for due rows this often when it found none (or wake() says to look now).
    std::chrono::milliseconds idle_wait{200};
    /// Now, for leases and due times. Empty: the system clock.
    std::function<ports::OutboxTime()> clock;
    /// A number drawn uniformly from [0, 1), for the jitter. Empty: a random engine seeded by std::random_device.
    std::function<double()> random;
    /// Where failures go (a handler's, or the outbox's on the relay's thread). Empty: print_relay_error.
    RelayErrorSink on_error;
    /// On its thread, between steps, the relay also runs `maintenance` (allocation::purge, say): once when it
    /// starts, then every `maintenance_every`. A failure goes to on_error, and it runs again at its next time.
    /// Empty: none.
    std::function<void()> maintenance;
    std::chrono::milliseconds maintenance_every{std::chrono::hours(1)};
};

/// The wait before trying a row again after its `attempts`th failure (from 1): first_retry * 2^(attempts - 1),
/// at most max_retry, then shortened by jitter * `random` of itself (`random` in [0, 1]).
inline std::chrono::microseconds retry_delay(int attempts, const RelayOptions& options, double random) {
    using std::chrono::microseconds;
    const microseconds cap = std::max<microseconds>(options.max_retry, options.first_retry);
    microseconds delay = options.first_retry;
    for (int i = 1; i < attempts && delay < cap; ++i) delay = std::min<microseconds>(delay * 2, cap);
    const double keep = 1.0 - std::clamp(options.jitter, 0.0, 1.0) * std::clamp(random, 0.0, 1.0);
    return microseconds(static_cast<microseconds::rep>(static_cast<double>(delay.count()) * keep));
}

/// The handler that turns an OutOfStock row into the book's notification (handlers::send_out_of_stock_notification).
/// The notifier must outlive the relay.
template <ports::Notifier N>
std::function<void(const ports::OutboxMessage&)> notify_out_of_stock(N& notifier) {
    return [&notifier](const ports::OutboxMessage& message) {
        handlers::send_out_of_stock_notification(events::OutOfStock{message.sku}, notifier);
    };
}

/// Delivers an outbox's rows, at least once: claims the due ones, oldest first, with a lease; hands each to the
/// handler of its type; marks it delivered only once that handler returned; and when the handler throws (or no
/// handler takes its type), records the failure so that the row is due again after retry_delay.
///
/// A row whose delivery succeeded but could not be marked (the process died, the database failed) is delivered
/// again once its lease expires, so handlers must be idempotent: the row's id is the message id to check.
/// A row waiting for its next attempt does not hold back the rows after it, of its product or another.
///
/// `start()` runs `run_once()` on a thread of its own until `stop()`; tests drive `run_once()` themselves,
/// with the clock and the randomness of RelayOptions. Register handlers with `on()` before either, and do not
/// call `run_once()` while the thread runs. The outbox must outlive the relay.
template <ports::Outbox O>
class Relay {
public:
    using Handler = std::function<void(const ports::OutboxMessage&)>;

    /// What one step did.
    struct Step {
        std::size_t delivered = 0;
        std::size_t failed = 0;
        friend bool operator==(const Step&, const Step&) = default;
    };

    explicit Relay(O& outbox, RelayOptions options = {}) : outbox_(outbox), options_(std::move(options)) {
        if (!options_.clock) options_.clock = [] { return ports::OutboxClock::now(); };
        if (!options_.random) options_.random = default_random();
        if (!options_.on_error) options_.on_error = print_relay_error;
        if (options_.owner.empty()) options_.owner = random_owner();
        options_.batch_size = std::max<std::size_t>(options_.batch_size, 1);
    }
    Relay(const Relay&) = delete;
    Relay& operator=(const Relay&) = delete;
    ~Relay() { stop(); }

    /// Hands the rows of `type` ("Allocated", "OutOfStock") to `handler`, replacing an earlier one.
    void on(std::string_view type, Handler handler) {
        auto known = std::find_if(handlers_.begin(), handlers_.end(), [&](const auto& h) { return h.first == type; });
        if (known != handlers_.end()) {
            known->second = std::move(handler);
        } else {
            handlers_.emplace_back(std::string(type), std::move(handler));
        }
    }

    /// Claims up to batch_size due rows and delivers them, oldest first, then marks those delivered in one step.
    /// Stops early, handing the rest back, when stop() is called meanwhile. A failure of the outbox itself is
    /// thrown (rows delivered but not marked are delivered again after their lease).
    Step run_once() {
        const ports::OutboxTime now = options_.clock();
        std::vector<ports::OutboxMessage> rows = outbox_.claim(options_.owner, now, now + options_.lease, options_.batch_size);
        Step step;
        std::vector<std::string> delivered;
        for (std::size_t i = 0; i < rows.size(); ++i) {
            if (stopping_.load()) {
                release(rows, i);
                break;
            }
            if (deliver(rows[i])) {
                delivered.push_back(rows[i].id);
                ++step.delivered;
            } else {
                ++step.failed;
            }
        }
        // One step for the batch: on SQLite, one commit instead of one per row.
        if (!delivered.empty()) outbox_.mark_all_delivered(delivered, options_.clock());
        return step;
    }

    /// Runs run_once() on a thread of its own: at once again after a full batch, else after idle_wait (or wake()).
    void start() {
        if (thread_.joinable()) throw std::logic_error("the relay is already running");
        stopping_ = false;
        thread_ = std::thread([this] { loop(); });
    }

    /// Stops the thread and waits for it: the row being delivered is finished, the others claimed are handed
    /// back. Prompt: the thread does not sleep out its idle_wait. Safe to call more than once.
    void stop() noexcept {
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;
        }
        wake_.notify_all();
        if (thread_.joinable()) thread_.join();
    }

    /// Asks the thread to look for due rows now (after a commit, say) instead of at the end of its idle_wait.
    void wake() noexcept {
        {
            std::lock_guard lock(mutex_);
            woken_ = true;
        }
        wake_.notify_all();
    }

    /// True from stop() on (until the next start()): a handler that takes long may look and give up early.
    bool stopping() const noexcept { return stopping_.load(); }

    const std::string& owner() const noexcept { return options_.owner; }

private:
    static std::string random_owner() {
        std::random_device device;
        const std::uint64_t high = device(), low = device();
        return fmt::format("relay-{:016x}", (high << 32) | low);
    }

    static std::function<double()> default_random() {
        return [engine = std::mt19937_64(std::random_device{}())]() mutable {
            return std::uniform_real_distribution<double>(0.0, 1.0)(engine);
        };
    }

    const Handler* handler_for(std::string_view type) const noexcept {
        auto found = std::find_if(handlers_.begin(), handlers_.end(), [&](const auto& h) { return h.first == type; });
        return found == handlers_.end() ? nullptr : &found->second;
    }

    // True when the handler took the row (run_once marks it delivered).
    bool deliver(const ports::OutboxMessage& row) {
        try {
            const Handler* handler = handler_for(row.type);
            if (handler == nullptr) throw std::runtime_error("no handler for rows of type " + row.type);
            (*handler)(row);
        } catch (const std::exception& error) {
            failed(row, error);
            return false;
        } catch (...) {
            failed(row, std::runtime_error("unknown exception"));
            return false;
        }
        return true;
    }

    void failed(const ports::OutboxMessage& row, const std::exception& error) {
        report("delivering " + row.id + " (" + row.type + ")", error);
        const auto next = options_.clock() + retry_delay(row.attempts + 1, options_, options_.random());
        outbox_.record_failure(row.id, options_.owner, next, error.what());
    }

    void release(const std::vector<ports::OutboxMessage>& rows, std::size_t from) {
        for (std::size_t i = from; i < rows.size(); ++i) outbox_.release(rows[i].id, options_.owner);
    }

    void report(std::string_view doing, const std::exception& error) noexcept {
        try {
            options_.on_error(doing, error);
        } catch (...) {
            std::fputs("allocation: the relay's error sink itself failed\n", stderr);
        }
    }

    void loop() noexcept {
        auto next_maintenance = std::chrono::steady_clock::now();
        while (!stopping_.load()) {
            if (options_.maintenance && std::chrono::steady_clock::now() >= next_maintenance) {
                maintain();
                next_maintenance = std::chrono::steady_clock::now() + options_.maintenance_every;
            }
            Step step;
            try {
                step = run_once();
                outbox_failures_ = 0;
            } catch (const std::exception& error) {
                outbox_failed(error);
                continue;
            } catch (...) {
                outbox_failed(std::runtime_error("unknown exception"));
                continue;
            }
            if (step.delivered + step.failed < options_.batch_size) idle(options_.idle_wait);
        }
    }

    // The outbox itself failed (its database is away, say): tried again after the same capped, jittered backoff
    // as a failing row, so that an outage is not retried, and reported, every idle_wait. wake() still cuts it short.
    void outbox_failed(const std::exception& error) {
        report("claiming and delivering rows", error);
        const auto wait = retry_delay(++outbox_failures_, options_, options_.random());
        idle(std::chrono::duration_cast<std::chrono::milliseconds>(wait));
    }

    void maintain() noexcept {
        try {
            options_.maintenance();
        } catch (const std::exception& error) {
            report("maintenance", error);
        } catch (...) {
            report("maintenance", std::runtime_error("unknown exception"));
        }
    }

    // Waits for `wait`, wake() or stop(), whichever comes first.
    void idle(std::chrono::milliseconds wait) {
        std::unique_lock lock(mutex_);
        wake_.wait_for(lock, wait, [this] { return stopping_.load() || woken_; });
        woken_ = false;
    }

    O& outbox_;
    RelayOptions options_;
    std::vector<std::pair<std::string, Handler>> handlers_;
    std::mutex mutex_;  // guards woken_, and stopping_'s changes, for the condition variable
    std::condition_variable wake_;
    std::atomic<bool> stopping_{false};
    bool woken_ = false;
    int outbox_failures_ = 0;  // the outbox's failures in a row, on the relay's thread
    std::thread thread_;  // last: started once everything above is ready
};

}  // namespace allocation
