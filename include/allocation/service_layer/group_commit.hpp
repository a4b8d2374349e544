// Group commit: the commands of many threads, run by the bus in groups of one unit of work and one commit each.
#pragma once

#include <algorithm>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "allocation/domain/commands.hpp"
#include "allocation/service_layer/message_bus.hpp"

namespace allocation {

/// Hands the commands of many threads to a bus whose units of work have savepoints (ports::Savepoints), so that
/// the commands that wait for the writer commit together (MessageBus::handle_group):
/// - a command that finds nobody committing runs at once, alone (MessageBus::handle): no timer, no added latency
///   when the load is low;
/// - commands that arrive meanwhile queue; when the commit in progress ends, the oldest of them runs every queued
///   command, at most `max_group`, in one unit of work, one savepoint each, and one commit: with SQLite's
///   `synchronous=full`, one sync to disk for all of them;
/// - each caller gets its own answer, or its own exception, only once the commit that holds its command returned
///   (the commit is durable then), exactly as MessageBus::handle would have answered.
/// handle() may be called from any number of threads at once: those are the commands that can meet in a group, so
/// a server needs as many threads handing in commands as it wants commands in one group. With `max_group` 1 there
/// are no groups: each command goes to MessageBus::handle on its caller's thread, at once, as if this were not
/// there. The bus must outlive it.
///
/// `on_group(n)`, when given, is told of each group once it ran, with its number of commands (1 for a command that ran
/// alone), for metrics: the mean group size is the commands over the groups. It is called from the thread that ran
/// the group and must not throw.
template <typename Bus>
class GroupCommit {
public:
    using GroupObserver = std::function<void(std::size_t commands)>;

    explicit GroupCommit(Bus& bus, std::size_t max_group = 64, GroupObserver on_group = {})
        : bus_(bus), max_group_(std::max<std::size_t>(max_group, 1)), on_group_(std::move(on_group)) {}
    GroupCommit(const GroupCommit&) = delete;
    GroupCommit& operator=(const GroupCommit&) = delete;

    std::optional<std::string> handle(const commands::Allocate& cmd) { return answer(submit(cmd)); }
    void handle(const commands::CreateBatch& cmd) { answer(submit(cmd)); }
    void handle(const commands::ChangeBatchQuantity& cmd) { answer(submit(cmd)); }
    std::optional<std::string> handle(const Message& message) { return answer(submit(message)); }

    std::size_t max_group() const noexcept { return max_group_; }
    /// Commands handed in and not answered yet: the group committing now, and those queued behind it.
    std::size_t waiting() const {
        std::lock_guard lock(mutex_);
        return queue_.size();
    }

private:
    using Outcome = typename Bus::Outcome;

    struct Waiter {
        Message message;
        Outcome outcome;
        bool done = false;
        std::condition_variable turn;  // done, or first in the queue
    };

    static std::optional<std::string> answer(Outcome&& outcome) {
        if (outcome.error) std::rethrow_exception(outcome.error);
        return std::move(outcome.result);
    }

    Outcome submit(Message message) {
        if (max_group_ == 1) {
            Outcome outcome = run_alone(message);
            if (on_group_) on_group_(1);
            return outcome;
        }
        Waiter self{std::move(message), {}, false, {}};
        std::unique_lock lock(mutex_);
        queue_.push_back(&self);
        self.turn.wait(lock, [&] { return self.done || queue_.front() == &self; });
        if (!self.done) lead(lock);
        return std::move(self.outcome);
    }

    // Runs the queued commands from the front, this thread's first, and answers each; then wakes the next leader.
    void lead(std::unique_lock<std::mutex>& lock) {
        const auto size = static_cast<std::ptrdiff_t>(std::min(queue_.size(), max_group_));
        const std::vector<Waiter*> group(queue_.begin(), queue_.begin() + size);
        lock.unlock();
        std::vector<Outcome> outcomes = run(group);
        if (on_group_) on_group_(group.size());
        lock.lock();
        for (std::size_t i = 0; i < group.size(); ++i) {
            group[i]->outcome = std::move(outcomes[i]);
            group[i]->done = true;
            queue_.pop_front();
            if (i > 0) group[i]->turn.notify_one();
        }
        if (!queue_.empty()) queue_.front()->turn.notify_one();
    }

    Outcome run_alone(const Message& message) {
        try {
            return {bus_.handle(message), nullptr};
        } catch (...) {
            return {std::nullopt, std::current_exception()};
        }
    }

    std::vector<Outcome> run(const std::vector<Waiter*>& group) noexcept {
        try {
            if (group.size() == 1) return {run_alone(group.front()->message)};
            std::vector<Message> messages;
            messages.reserve(group.size());
            for (const Waiter* waiter : group) messages.push_back(waiter->message);
            return bus_.handle_group(messages);
        } catch (...) {
            return std::vector<Outcome>(group.size(), Outcome{std::nullopt, std::current_exception()});
        }
    }

    Bus& bus_;
    const std::size_t max_group_;
    const GroupObserver on_group_;
    mutable std::mutex mutex_;
    std::deque<Waiter*> queue_;  // the group committing now first, then those waiting, oldest first
};

}  // namespace allocation
