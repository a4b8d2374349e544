// The message bus: routes each command to its one handler and each event to all of its handlers.
#pragma once

#include <cstdio>
#include <exception>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include <fmt/format.h>

#include "allocation/domain/commands.hpp"
#include "allocation/domain/errors.hpp"
#include "allocation/domain/events.hpp"
#include "allocation/domain/format.hpp"
#include "allocation/ports/notifications.hpp"
#include "allocation/ports/publisher.hpp"
#include "allocation/ports/unit_of_work.hpp"
#include "allocation/ports/views.hpp"
#include "allocation/service_layer/handlers.hpp"

namespace allocation {

/// Everything the bus can handle.
using Message = std::variant<commands::Allocate, commands::CreateBatch, commands::ChangeBatchQuantity,
                             events::Allocated, events::Deallocated, events::OutOfStock>;

/// Receives the failure of an event handler: the event, the handler's name and what it threw.
using ErrorSink = std::function<void(const events::Event& event, std::string_view handler, const std::exception& error)>;

/// Writes one line to stderr: the default error sink.
inline void print_handler_error(const events::Event& event, std::string_view handler, const std::exception& error) {
    fmt::print(stderr, "allocation: handler {} failed on {}: {}\n", handler, event, error.what());
}

struct BusOptions {
    /// How many times one message is tried when its unit of work loses an optimistic-concurrency race.
    int max_attempts = 3;
    /// Where event-handler failures are reported. They never stop the other handlers.
    ErrorSink on_error = print_handler_error;
    /// Called before each new try of a message whose unit of work lost a race (for metrics); may be empty.
    std::function<void()> on_retry;
};

/// Handles commands and the events they raise, one unit of work per message.
///
/// - A command has exactly one handler; its failure reaches the caller. `Allocate` returns the batch
///   reference, or nothing when out of stock.
/// - An event may have several handlers; each failure is reported to the error sink and the others still run.
/// - Events raised while handling a message are handled after it, in order, until none is left. The queue
///   belongs to one `handle()` call, so one bus may be used from several threads at once: every message gets
///   its own unit of work from the factory. (Subscribe extra handlers before sharing the bus.)
/// - The read model is the exception: every unit of work's commit stores what its products' events say
///   (allocation::project), in the same transaction as the products, so it can never fall behind them or
///   apply their changes out of order, whoever called the handler. An Allocated or Deallocated event handed
///   to `handle()` from outside was raised by no commit here: the book's read-model handlers store it, in a
///   unit of work of its own, before its other handlers run.
/// - A message whose unit of work throws ConcurrencyError is tried again with a fresh unit of work, up to
///   `BusOptions::max_attempts` times in all.
template <ports::UnitOfWorkFactory Factory, ports::Notifier Notify, ports::EventPublisher Publish>
class MessageBus {
public:
    using unit_of_work_type = decltype(std::declval<Factory&>()());

    MessageBus(Factory uow_factory, Notify& notifier, Publish& publisher, BusOptions options = {})
        : uow_factory_(std::move(uow_factory)), notifier_(notifier), publisher_(publisher),
          options_(std::move(options)) {
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
    /// Handles an event that arrived from outside (the read model first), and whatever it raises.
    void handle(const events::Event& event) {
        std::vector<events::Event> queue{event};
        std::visit([&](const auto& e) { update_read_model(e, event, queue); }, event);
        drain(queue);
    }
    /// Handles any message; the result is the batch reference for a successful `Allocate`, nothing otherwise.
    std::optional<std::string> handle(const Message& message) {
        return std::visit(
            [this](const auto& m) -> std::optional<std::string> {
                using M = std::decay_t<decltype(m)>;
                if constexpr (std::is_same_v<M, commands::Allocate>) {
                    return handle(m);
                } else if constexpr (std::is_same_v<M, commands::CreateBatch> ||
                                     std::is_same_v<M, commands::ChangeBatchQuantity>) {
                    handle(m);
                    return std::nullopt;
                } else {
                    handle(events::Event{m});
                    return std::nullopt;
                }
            },
            message);
    }

    /// Adds a handler for event type E, run after the built-in ones. Not thread-safe: subscribe first.
    template <typename E>
    void subscribe(std::function<void(const E&)> handler) {
        std::get<std::vector<std::function<void(const E&)>>>(subscribers_).push_back(std::move(handler));
    }

    const BusOptions& options() const noexcept { return options_; }

private:
    // Runs `work` with a fresh unit of work, again on ConcurrencyError, and queues the committed events.
    template <typename Work>
    auto with_unit_of_work(Work&& work, std::vector<events::Event>& queue) {
        for (int attempt = 1;; ++attempt) {
            try {
                auto uow = uow_factory_();
                if constexpr (std::is_void_v<std::invoke_result_t<Work&, unit_of_work_type&>>) {
                    work(uow);
                    append(queue, uow.collect_new_events());
                    return;
                } else {
                    auto result = work(uow);
                    append(queue, uow.collect_new_events());
                    return result;
                }
            } catch (const ConcurrencyError&) {
                if (attempt >= options_.max_attempts) throw;
                if (options_.on_retry) options_.on_retry();
            }
        }
    }

    template <typename Work>
    auto run_command(Work&& work) {
        std::vector<events::Event> queue;
        if constexpr (std::is_void_v<std::invoke_result_t<Work&, unit_of_work_type&>>) {
            with_unit_of_work(work, queue);
            drain(queue);
        } else {
            auto result = with_unit_of_work(work, queue);
            drain(queue);
            return result;
        }
    }

    static void append(std::vector<events::Event>& queue, std::vector<events::Event>&& events) {
        if (queue.empty()) {
            queue = std::move(events);
        } else {
            queue.insert(queue.end(), std::make_move_iterator(events.begin()), std::make_move_iterator(events.end()));
        }
    }

    // Handles queued events in order; handlers may queue more. Each event is moved out before dispatch so
    // that growing the queue never invalidates it.
    void drain(std::vector<events::Event>& queue) {
        for (std::size_t head = 0; head < queue.size(); ++head) {
            events::Event event = std::move(queue[head]);
            std::visit([&](const auto& e) { dispatch(e, event, queue); }, event);
        }
    }

    template <typename Fn>
    void guarded(std::string_view name, const events::Event& event, Fn&& fn) noexcept {
        try {
            fn();
        } catch (const std::exception& error) {
            report(event, name, error);
        } catch (...) {
            report(event, name, std::runtime_error("unknown exception"));
        }
    }

    void report(const events::Event& event, std::string_view name, const std::exception& error) noexcept {
        try {
            options_.on_error(event, name, error);
        } catch (...) {
            // An error sink that fails must not take the bus down with it; stderr is the last resort.
            std::fputs("allocation: the error sink itself failed\n", stderr);
        }
    }

    template <typename E>
    void run_subscribers(const E& e, const events::Event& event) {
        for (auto& handler : std::get<std::vector<std::function<void(const E&)>>>(subscribers_)) {
            guarded("subscriber", event, [&] { handler(e); });
        }
    }

    // The book's read-model handlers, for events from outside only: a commit here has stored its own events.
    void update_read_model(const events::Allocated& e, const events::Event& event, std::vector<events::Event>& queue) {
        guarded("add_allocation_to_read_model", event, [&] {
            with_unit_of_work([&](unit_of_work_type& uow) { handlers::add_allocation_to_read_model(e, uow); }, queue);
        });
    }
    void update_read_model(const events::Deallocated& e, const events::Event& event,
                           std::vector<events::Event>& queue) {
        guarded("remove_allocation_from_read_model", event, [&] {
            with_unit_of_work([&](unit_of_work_type& uow) { handlers::remove_allocation_from_read_model(e, uow); },
                              queue);
        });
    }
    void update_read_model(const events::OutOfStock&, const events::Event&, std::vector<events::Event>&) {}

    void dispatch(const events::Allocated& e, const events::Event& event, std::vector<events::Event>&) {
        guarded("publish_allocated_event", event, [&] { handlers::publish_allocated_event(e, publisher_); });
        run_subscribers(e, event);
    }
    // No reallocation here: the product allocated the line again, or kept it waiting, in the very commit that
    // deallocated it, so that the line is stored somewhere at every moment.
    void dispatch(const events::Deallocated& e, const events::Event& event, std::vector<events::Event>&) {
        run_subscribers(e, event);
    }
    void dispatch(const events::OutOfStock& e, const events::Event& event, std::vector<events::Event>&) {
        guarded("send_out_of_stock_notification", event,
                [&] { handlers::send_out_of_stock_notification(e, notifier_); });
        run_subscribers(e, event);
    }

    Factory uow_factory_;
    Notify& notifier_;
    Publish& publisher_;
    BusOptions options_;
    std::tuple<std::vector<std::function<void(const events::Allocated&)>>,
               std::vector<std::function<void(const events::Deallocated&)>>,
               std::vector<std::function<void(const events::OutOfStock&)>>>
        subscribers_;
};

}  // namespace allocation

template <>
struct fmt::formatter<allocation::Message> : allocation::detail::VariantFormatter<allocation::Message> {};
