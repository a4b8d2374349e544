// A fixed set of threads with a bounded queue: where the service runs the calls that block on the database.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <stop_token>
#include <thread>
#include <vector>

namespace allocation::http {

/// Runs submitted tasks on `threads` threads. At most `queue_limit` tasks wait for a thread: beyond that,
/// `try_submit` refuses, so that a burst costs a quick refusal instead of unbounded memory and latency.
class WorkerPool {
public:
    WorkerPool(std::size_t threads, std::size_t queue_limit) : queue_limit_(queue_limit) {
        workers_.reserve(threads);
        for (std::size_t i = 0; i < threads; ++i) workers_.emplace_back([this](std::stop_token stop) { work(stop); });
    }
    WorkerPool(const WorkerPool&) = delete;
    WorkerPool& operator=(const WorkerPool&) = delete;
    ~WorkerPool() { stop(); }

    /// Queues `task`; false when the queue is full or the pool is stopping. A task must not throw.
    bool try_submit(std::function<void()> task) {
        {
            std::lock_guard lock(mutex_);
            if (stopping_ || queue_.size() >= queue_limit_) return false;
            queue_.push_back(std::move(task));
        }
        ready_.notify_one();
        return true;
    }

    /// Tasks waiting for a thread now.
    std::size_t queued() const {
        std::lock_guard lock(mutex_);
        return queue_.size();
    }

    /// Runs what is queued, then joins the threads. Idempotent.
    void stop() noexcept {
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;  // no task is queued from now on
        }
        for (auto& worker : workers_) worker.request_stop();
        for (auto& worker : workers_) {
            if (worker.joinable()) worker.join();
        }
    }

private:
    // A stop request ends the wait, but a thread leaves only once the queue is empty: what was accepted runs.
    void work(std::stop_token stop) {
        for (;;) {
            std::function<void()> task;
            {
                std::unique_lock lock(mutex_);
                if (!ready_.wait(lock, stop, [this] { return !queue_.empty(); })) return;  // stopped, nothing left
                task = std::move(queue_.front());
                queue_.pop_front();
            }
            task();
        }
    }

    const std::size_t queue_limit_;
    mutable std::mutex mutex_;
    std::condition_variable_any ready_;
    std::deque<std::function<void()>> queue_;
    bool stopping_ = false;
    std::vector<std::jthread> workers_;
};

}  // namespace allocation::http
