// The relay: hands the outbox's rows to the outbound handlers, at least once: each commit's rows at once (the bus's
// Delivery), and, on a thread of its own or one step at a time, whatever failed or was cut off by a crash, with
// one capped, jittered backoff.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <functional>
#include <limits>
#include <optional>
#include <random>
#include <stdexcept>
#include <span>
#include <stop_token>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "allocation/ports/outbox.hpp"
#include "allocation/serialisation/log_text.hpp"
#include "allocation/service_layer/background.hpp"
#include "allocation/service_layer/repeated_failures.hpp"

namespace allocation {

/// Receives what went wrong in a relay: what it was doing ("delivering LAMP:...", "claiming rows") and why.
using RelayErrorSink = std::function<void(std::string_view doing, const std::exception& error)>;

/// Writes one line to stderr: the default relay error sink.
inline void print_relay_error(std::string_view doing, const std::exception& error) {
    fmt::print(stderr, "allocation: relay: {}\n", log_text(fmt::format("{}: {}", doing, error.what())));
}

struct RelayOptions {
    /// Names this relay in its leases; it must differ between the relays of one database. Empty: a random name.
    std::string owner;
    /// Rows claimed at once.
    std::size_t batch_size = 64;
    /// How long a claimed row stays this relay's; longer than a handler ever takes, or another relay may claim
    /// the row meanwhile and deliver it again.
    std::chrono::milliseconds lease{std::chrono::seconds(30)};
    /// The wait before a row is tried again after its nth failure: 100 ms doubling to 60 s, up to half of it
    /// taken off at random.
    Backoff backoff{};
    /// On its thread, the relay looks for due rows this often when nothing is due sooner: rows whose committer did
    /// not deliver them (it died) or that another relay left. A failure here wakes it for its retry's time.
    std::chrono::milliseconds poll{std::chrono::seconds(1)};
    /// Now, for leases and due times. Empty: the system clock.
    std::function<ports::OutboxTime()> clock;
    /// A number drawn uniformly from [0, 1), for the jitter; called from any thread that delivers. Empty:
    /// Backoff::random_fraction.
    std::function<double()> random;
    /// Where failures go (a handler's, or the outbox's). Empty: print_relay_error.
    RelayErrorSink on_error;
    /// Deliveries that fail while others failed before them are reported at most once every `summarise_every`,
    /// saying how many were left out since the last report (a broker away for a minute costs a few lines, not one
    /// per row and attempt); the first delivery that succeeds after them reports how many failed in all ("delivering
    /// again after N failed deliveries") with the last error. Zero: every failure is reported.
    std::chrono::milliseconds summarise_every{std::chrono::seconds(5)};
    /// On its thread, between steps, the relay also runs `maintenance` (allocation::purge, say): once when it
    /// starts, then every `maintenance_every`. A failure goes to on_error, and it runs again at its next time.
    /// Empty: none.
    std::function<void()> maintenance;
    std::chrono::milliseconds maintenance_every{std::chrono::hours(1)};
};

/// Delivers an outbox's rows to `Handler` (handlers::Outbound, or any callable taking a `const OutboxMessage&`), at
/// least once, in two ways that share every rule:
/// - `deliver(rows)`: the rows a commit just stored, handed to the handler at once, in order (the bus calls it
///   after each commit: the book's way of publishing right after the change);
/// - `run_once()`: claims the due rows, oldest first, with a lease, and hands each to the handler: the rows whose
///   delivery failed, once their backoff has passed, and those nobody delivered (the process died after the
///   commit) once allocation::outbox_handoff has passed. `start()` runs it on a thread of its own.
/// A row is marked delivered only once the handler returned. When the handler throws, the failure is recorded and
/// the row is due again after the backoff. A row delivered but not marked (the process died, the database failed)
/// is delivered again, so handlers must be idempotent: the row's id is the message id to check. A row waiting
/// for its next attempt does not hold back the rows after it, of its product or another.
///
/// deliver() may be called from several threads at once (the handler must allow that), also while the thread runs.
/// Tests drive `run_once()` themselves, with the clock and the randomness of RelayOptions; do not call it while the
/// thread runs. The outbox and the handler's dependencies must outlive the relay. Its destruction stops the thread
/// and writes the delivery marks the outbox holds in memory (ports::Outbox::flush).
template <ports::Outbox O, typename Handler>
    requires std::invocable<Handler&, const ports::OutboxMessage&>
class Relay {
public:
    /// What one step did.
    struct Step {
        std::size_t delivered = 0;
        std::size_t failed = 0;
        friend bool operator==(const Step&, const Step&) = default;
    };

    Relay(O& outbox, Handler handler, RelayOptions options = {})
        : outbox_(outbox), handler_(std::move(handler)), options_(std::move(options)) {
        if (!options_.clock) options_.clock = [] { return ports::OutboxClock::now(); };
        if (!options_.random) options_.random = &Backoff::random_fraction;
        if (!options_.on_error) options_.on_error = print_relay_error;
        if (options_.owner.empty()) options_.owner = random_owner();
        options_.batch_size = std::max<std::size_t>(options_.batch_size, 1);
    }
    Relay(const Relay&) = delete;
    Relay& operator=(const Relay&) = delete;
    ~Relay() { stop(); }

    /// Hands the rows a commit just stored to the handler, in order, and marks those it took. Never throws: a
    /// failure is reported and recorded, and the relay tries the row again after its backoff.
    void deliver(std::vector<ports::OutboxMessage> rows) noexcept {
        std::size_t failed = 0;
        for (auto& row : rows) {
            if (!hand_over(row)) {
                ++failed;
                row.id.clear();  // recorded as failed: not to be marked
            }
        }
        if (failed < rows.size()) mark_each(rows);
        if (failed > 0) wakeup_.wake();  // for the retry's time
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
            if (stopping()) {
                release(rows, i);
                break;
            }
            if (hand_over(rows[i])) {
                delivered.push_back(rows[i].id);
                ++step.delivered;
            } else {
                ++step.failed;
            }
        }
        if (!delivered.empty()) outbox_.mark_delivered(delivered, options_.clock());
        return step;
    }

    /// Runs run_once() on a thread of its own: at once again after a full batch, else when the next failed row is
    /// due, after `poll`, or at wake(), whichever comes first.
    void start() {
        if (thread_.joinable()) throw std::logic_error("the relay is already running");
        stopping_ = false;
        thread_ = std::jthread([this](std::stop_token stop) { loop(stop); });
    }

    /// Stops the thread and waits for it: the row being delivered is finished, the others claimed are handed
    /// back; then writes the marks the outbox holds. Prompt: the thread does not sleep out its wait. Safe to call
    /// more than once.
    void stop() noexcept {
        stopping_ = true;
        thread_.request_stop();
        if (thread_.joinable()) thread_.join();
        try {
            outbox_.flush();
        } catch (const std::exception& error) {
            report("writing delivery marks", error);
        }
    }

    /// Asks the thread to look for due rows now instead of at the end of its wait.
    void wake() noexcept { wakeup_.wake(); }

    /// True from stop() on (until the next start()): a handler that takes long may look and give up early.
    bool stopping() const noexcept { return stopping_.load(); }

    const std::string& owner() const noexcept { return options_.owner; }

private:
    static std::string random_owner() {
        std::random_device device;
        const std::uint64_t high = device(), low = device();
        return fmt::format("relay-{:016x}", (high << 32) | low);
    }

    // True when the handler took the row; otherwise the failure is reported and recorded.
    bool hand_over(const ports::OutboxMessage& row) noexcept {
        try {
            handler_(row);
            delivered_again();
            return true;
        } catch (const std::exception& error) {
            failed(row, error);
        } catch (...) {
            failed(row, std::runtime_error("unknown exception"));
        }
        return false;
    }

    void failed(const ports::OutboxMessage& row, const std::exception& error) noexcept {
        try {
            if (const auto unsaid = deliveries_.failed(options_.clock(), error.what())) {
                report(*unsaid == 0 ? "delivering " + row.id
                                    : fmt::format("delivering {} ({} since the last report)", row.id,
                                                  failed_deliveries(*unsaid)),
                       error);
            }
            const auto next = options_.clock() + options_.backoff.delay(row.attempts + 1, options_.random());
            if (outbox_.record_failure(row.id, options_.owner, next, error.what())) due_by(next);
        } catch (const std::exception& outbox_error) {
            report("recording the failure of " + row.id, outbox_error);
        }
    }

    static std::string failed_deliveries(std::size_t count) {
        return fmt::format("{} failed {}", count, count == 1 ? "delivery" : "deliveries");
    }

    // After failed deliveries, the first that succeeds says how many failed.
    void delivered_again() noexcept {
        try {
            if (auto ended = deliveries_.succeeded()) {
                report(fmt::format("delivering again after {}", failed_deliveries(ended->failures)),
                       std::runtime_error(fmt::format("the last failure: {}", ended->last_error)));
            }
        } catch (...) {  // the report is lost, not the delivery
        }
    }

    // Marks the rows that kept their id delivered, one by one (a commit's rows are few), at one time.
    void mark_each(const std::vector<ports::OutboxMessage>& rows) noexcept {
        try {
            const ports::OutboxTime now = options_.clock();
            for (const auto& row : rows) {
                if (!row.id.empty()) outbox_.mark_delivered(std::span<const std::string>(&row.id, 1), now);
            }
        } catch (const std::exception& error) {
            report("marking rows delivered", error);  // they are delivered again: at least once
        }
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

    // Remembers the earliest time a failed row is due, for the thread's wait.
    void due_by(ports::OutboxTime next) noexcept {
        const auto at = next.time_since_epoch().count();
        auto known = next_due_.load();
        while (at < known && !next_due_.compare_exchange_weak(known, at)) {
        }
    }

    void loop(std::stop_token stop) noexcept {
        auto next_maintenance = std::chrono::steady_clock::now();
        int outbox_failures = 0;  // the outbox's failures in a row
        while (!stop.stop_requested()) {
            if (options_.maintenance && std::chrono::steady_clock::now() >= next_maintenance) {
                maintain();
                next_maintenance = std::chrono::steady_clock::now() + options_.maintenance_every;
            }
            const auto step = try_step();
            if (!step) {  // the outbox itself failed (its database away): the backoff, not every poll
                wakeup_.wait_for(stop, options_.backoff.delay(++outbox_failures, options_.random()));
                continue;
            }
            outbox_failures = 0;
            if (step->delivered + step->failed < options_.batch_size) wakeup_.wait_for(stop, wait());
        }
    }

    std::optional<Step> try_step() noexcept {
        try {
            return run_once();
        } catch (const std::exception& error) {
            report("claiming and delivering rows", error);
        } catch (...) {
            report("claiming and delivering rows", std::runtime_error("unknown exception"));
        }
        return std::nullopt;
    }

    // Until the earliest failed row is due, at most `poll`. A due time that has come is forgotten once the step
    // it wakes runs: that step takes the row (a later one's time is the poll's to catch).
    std::chrono::microseconds wait() noexcept {
        using std::chrono::microseconds;
        auto due = next_due_.load();
        if (due == no_due) return options_.poll;
        const auto now = options_.clock().time_since_epoch().count();
        if (due <= now) {
            next_due_.compare_exchange_strong(due, no_due);
            return microseconds(0);
        }
        const auto until = std::chrono::duration_cast<microseconds>(ports::OutboxClock::duration(due - now));
        return std::min<microseconds>(options_.poll, until);
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

    using Rep = ports::OutboxClock::duration::rep;
    static constexpr Rep no_due = std::numeric_limits<Rep>::max();

    O& outbox_;
    Handler handler_;
    RelayOptions options_;
    RepeatedFailures<ports::OutboxClock> deliveries_{options_.summarise_every};
    Wakeup wakeup_;
    std::atomic<Rep> next_due_{no_due};
    std::atomic<bool> stopping_{false};
    std::jthread thread_;  // last: started once everything above is ready
};

}  // namespace allocation
