// The message bus: routes each command to its one handler, hands what its commit stored in the outbox to the
// Delivery, and each event it raised to the handlers subscribed for it.
#pragma once

#include <chrono>
#include <cstdio>
#include <exception>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <stdexcept>
#include <string_view>
#include <thread>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include <fmt/format.h>

#include "allocation/domain/commands.hpp"
#include "allocation/domain/errors.hpp"
#include "allocation/domain/events.hpp"
#include "allocation/serialisation/log_text.hpp"
#include "allocation/serialisation/text.hpp"
#include "allocation/ports/outbox.hpp"
#include "allocation/ports/unit_of_work.hpp"
#include "allocation/service_layer/background.hpp"
#include "allocation/service_layer/handlers.hpp"
#include "allocation/service_layer/unit_of_work_part.hpp"

namespace allocation {

/// Everything the bus can handle: the commands. (Events are raised by the domain and handled inside handle().)
using Message = commands::Command;

/// Receives the failure of an event handler: the event, the handler's name and what it threw.
using ErrorSink = std::function<void(const events::Event& event, std::string_view handler, const std::exception& error)>;

/// Writes one line to stderr: the default error sink.
inline void print_handler_error(const events::Event& event, std::string_view handler, const std::exception& error) {
    fmt::print(stderr, "allocation: {}\n", log_text(fmt::format("handler {} failed on {}: {}", handler, event, error.what())));
}

/// What the bus hands each commit's outbox rows to, right after the commit (allocation::Relay::deliver): it
/// delivers them, and keeps whatever failed for later. Called from every thread that handles messages; never
/// throws.
template <typename D>
concept Delivery = requires(D& delivery, std::vector<ports::OutboxMessage> rows) {
    { delivery.deliver(std::move(rows)) } noexcept;
};

struct BusOptions {
    /// How many times one message is tried when its unit of work loses an optimistic-concurrency race.
    int max_attempts = 3;
    /// The wait before each new try, so that the contenders of a lost race do not meet again at once.
    Backoff retry_backoff{std::chrono::milliseconds(1), std::chrono::milliseconds(100), 0.5};
    /// Where event-handler failures are reported. They never stop the other handlers.
    ErrorSink on_error = print_handler_error;
    /// Called before each new try of a message whose unit of work lost a race (for metrics); may be empty.
    std::function<void()> on_retry;
};

/// Handles commands and the events they raise, one unit of work per message.
///
/// - A command has exactly one handler; its failure reaches the caller. `Allocate` returns the batch
///   reference, or nothing when out of stock.
/// - What leaves the process leaves through the outbox only: each commit stores the rows of its events that leave
///   (ports::UnitOfWork::collect_outbox), and the bus hands them to its Delivery once the unit of work is over,
///   before handle() returns. The read model has one writer too: each commit's projection of its products' events
///   (allocation::project), in the same transaction.
/// - Events raised while handling a message then go, in order, to the handlers subscribed for their type; each
///   failure is reported to the error sink and the others still run. The queue belongs to one `handle()` call,
///   so one bus may be used from several threads at once: every message gets its own unit of work from the
///   factory. (Subscribe before sharing the bus.)
/// - A message whose unit of work throws ConcurrencyError is tried again with a fresh unit of work, after
///   `BusOptions::retry_backoff`, up to `BusOptions::max_attempts` times in all.
template <ports::UnitOfWorkFactory Factory, Delivery Deliver>
class MessageBus {
public:
    using unit_of_work_type = decltype(std::declval<Factory&>()());

    MessageBus(Factory uow_factory, Deliver& delivery, BusOptions options = {})
        : uow_factory_(std::move(uow_factory)), delivery_(delivery), options_(std::move(options)) {
        if (options_.max_attempts < 1) options_.max_attempts = 1;
        if (!options_.on_error) options_.on_error = print_handler_error;
    }

    std::optional<std::string> handle(const commands::Allocate& cmd) {
        return run_command([&](unit_of_work_type& uow) { return handlers::allocate(cmd, uow); });
    }
    void handle(const commands::CreateBatch& cmd) {
        run_command([&](unit_of_work_type& uow) { handlers::add_batch(cmd, uow); });
    }
    void handle(const commands::ChangeBatchQuantity& cmd) {
        run_command([&](unit_of_work_type& uow) { handlers::change_batch_quantity(cmd, uow); });
    }
    /// Handles any command; the result is the batch reference for a successful `Allocate`, nothing otherwise.
    std::optional<std::string> handle(const Message& message) {
        return run_command([&](unit_of_work_type& uow) { return dispatch(message, uow); });
    }

    /// What one message of a group came to: what handle() would have returned, or what it would have thrown.
    struct Outcome {
        std::optional<std::string> result;
        std::exception_ptr error;
    };

    /// Handles `messages` in one unit of work, each in a savepoint of its own (ports::Savepoints), and commits them
    /// once: so one transaction, and one sync to disk, for all of them. A message that fails rolls back only
    /// itself and gets its own error; out of stock is no failure. Events and outbox rows are those of the messages
    /// that committed, in order, delivered and handled once the unit of work is over, as handle() does. When the
    /// one commit fails, each message is handled again alone (handle(), with its retries), and so is one that lost a
    /// race (ConcurrencyError) or needs lines of a product an earlier one changed (LinesNotLoaded): no message fails
    /// for another's sake. One outcome per message, in order.
    std::vector<Outcome> handle_group(std::span<const Message> messages)
        requires ports::Savepoints<unit_of_work_type>
    {
        std::vector<Outcome> outcomes(messages.size());
        Committed committed;
        bool stored = false;
        try {
            auto uow = uow_factory_();
            for (std::size_t i = 0; i < messages.size(); ++i) outcomes[i] = in_savepoint(messages[i], uow);
            uow.commit();
            stored = true;
            committed = {uow.collect_new_events(), uow.collect_outbox()};
        } catch (...) {
            // Nothing stored (or, past `stored`, nothing more to hand over): each message alone says what it comes to.
        }
        if (stored) after_commit(committed);
        for (std::size_t i = 0; i < messages.size(); ++i) {
            if (!stored || must_run_alone(outcomes[i])) outcomes[i] = alone(messages[i]);
        }
        return outcomes;
    }

    /// Adds a handler for event type E. Not thread-safe: subscribe first.
    template <typename E>
    void subscribe(std::function<void(const E&)> handler) {
        std::get<std::vector<std::function<void(const E&)>>>(subscribers_).push_back(std::move(handler));
    }

    const BusOptions& options() const noexcept { return options_; }

private:
    // The handler of `message`, with `uow` (the bus's own, or one part of a shared one).
    template <typename U>
    static std::optional<std::string> dispatch(const Message& message, U& uow) {
        return std::visit(
            [&](const auto& m) -> std::optional<std::string> {
                using M = std::decay_t<decltype(m)>;
                if constexpr (std::is_same_v<M, commands::Allocate>) {
                    return handlers::allocate(m, uow);
                } else if constexpr (std::is_same_v<M, commands::CreateBatch>) {
                    handlers::add_batch(m, uow);
                } else {
                    handlers::change_batch_quantity(m, uow);
                }
                return std::nullopt;
            },
            message);
    }

    static Outcome in_savepoint(const Message& message, unit_of_work_type& uow) {
        detail::UnitOfWorkPart<unit_of_work_type> part(uow);
        try {
            return {dispatch(message, part), nullptr};
        } catch (...) {
            part.rollback();
            return {std::nullopt, std::current_exception()};
        }
    }

    // A message that lost a race, or that needs lines of a product an earlier message of its group changed.
    static bool must_run_alone(const Outcome& outcome) {
        if (!outcome.error) return false;
        try {
            std::rethrow_exception(outcome.error);
        } catch (const ConcurrencyError&) {
            return true;
        } catch (const LinesNotLoaded&) {
            return true;
        } catch (...) {
            return false;
        }
    }

    Outcome alone(const Message& message) noexcept {
        try {
            return {handle(message), nullptr};
        } catch (...) {
            return {std::nullopt, std::current_exception()};
        }
    }

    // What a committed unit of work leaves behind: its events, and the outbox rows it stored.
    struct Committed {
        std::vector<events::Event> events;
        std::vector<ports::OutboxMessage> rows;
    };

    // Runs `work` with a fresh unit of work, again on ConcurrencyError, and keeps what its commits left.
    template <typename Work>
    auto with_unit_of_work(Work&& work, Committed& committed) {
        for (int attempt = 1;; ++attempt) {
            try {
                auto uow = uow_factory_();
                if constexpr (std::is_void_v<std::invoke_result_t<Work&, unit_of_work_type&>>) {
                    work(uow);
                    committed = {uow.collect_new_events(), uow.collect_outbox()};
                    return;
                } else {
                    auto result = work(uow);
                    committed = {uow.collect_new_events(), uow.collect_outbox()};
                    return result;
                }
            } catch (const ConcurrencyError&) {
                if (attempt >= options_.max_attempts) throw;
                if (options_.on_retry) options_.on_retry();
                std::this_thread::sleep_for(options_.retry_backoff.delay(attempt));
            }
        }
    }

    // The unit of work is over (its locks and connection given back) before anything is delivered.
    template <typename Work>
    auto run_command(Work&& work) {
        Committed committed;
        if constexpr (std::is_void_v<std::invoke_result_t<Work&, unit_of_work_type&>>) {
            with_unit_of_work(work, committed);
            after_commit(committed);
        } else {
            auto result = with_unit_of_work(work, committed);
            after_commit(committed);
            return result;
        }
    }

    void after_commit(Committed& committed) {
        delivery_.deliver(std::move(committed.rows));
        for (const events::Event& event : committed.events) {
            std::visit([&](const auto& e) { run_subscribers(e, event); }, event);
        }
    }

    template <typename E>
    void run_subscribers(const E& e, const events::Event& event) {
        for (auto& handler : std::get<std::vector<std::function<void(const E&)>>>(subscribers_)) {
            try {
                handler(e);
            } catch (const std::exception& error) {
                report(event, error);
            } catch (...) {
                report(event, std::runtime_error("unknown exception"));
            }
        }
    }

    void report(const events::Event& event, const std::exception& error) noexcept {
        try {
            options_.on_error(event, "subscriber", error);
        } catch (...) {
            // An error sink that fails must not take the bus down with it; stderr is the last resort.
            std::fputs("allocation: the error sink itself failed\n", stderr);
        }
    }

    Factory uow_factory_;
    Deliver& delivery_;
    BusOptions options_;
    std::tuple<std::vector<std::function<void(const events::Allocated&)>>,
               std::vector<std::function<void(const events::Deallocated&)>>,
               std::vector<std::function<void(const events::OutOfStock&)>>>
        subscribers_;
};

}  // namespace allocation
