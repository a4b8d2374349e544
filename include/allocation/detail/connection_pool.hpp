// The connections of one database, for any SQL adapter: each caller gets one nobody else is using, for as long as
// it holds a Lease; the adapter supplies only how to open a connection and how to tell one that is no longer usable.
#pragma once

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace allocation::detail {

/// What a ConnectionPool needs of its adapter (`P::Connection` is the adapter's connection with its statements):
/// - `open()`: a new connection, ready for use (its statements prepared); throws the adapter's StorageError;
/// - `keep(connection)`: whether a connection handed back may be handed out again (false: it is closed now);
/// - `still_open(connection)`: whether an idle connection is still usable, asked before it is handed out again
///   (false: it is closed and another is taken); cheap, without a round trip;
/// - `leased(connection)`: whatever the adapter does to a connection it hands out (noexcept);
/// - `shared()`: whether the database has exactly one connection, taken in turns (a database that lives in its
///   connection, such as SQLite's ":memory:").
template <typename P>
concept ConnectionPolicy = requires(P& p, typename P::Connection& c) {
    { p.open() } -> std::same_as<std::unique_ptr<typename P::Connection>>;
    { p.keep(c) } noexcept -> std::same_as<bool>;
    { p.still_open(c) } noexcept -> std::same_as<bool>;
    { p.leased(c) } noexcept;
    { p.shared() } noexcept -> std::same_as<bool>;
};

/// Hands each caller a connection nobody else is using, preferring the one its thread used last, so that a thread
/// keeps its connection (and its prepared statements) from one unit of work to the next, as sqlpp11's
/// connection_pool does. A connection found unusable is closed and never handed out again; the next caller opens
/// a new one, so the pool recovers by itself once the database is back. Opening happens outside the pool's lock.
/// A shared pool holds exactly one connection, and a lease holds a (recursive) lock on it: callers take turns.
template <ConnectionPolicy Policy>
class ConnectionPool {
    struct Slot {
        std::unique_ptr<typename Policy::Connection> connection;
        std::thread::id last_user;
        bool in_use = false;
    };

public:
    using Connection = typename Policy::Connection;

    /// Exclusive use of one connection until destroyed.
    class Lease {
    public:
        Lease(ConnectionPool& pool, Slot& slot, std::unique_lock<std::recursive_mutex> turn) noexcept
            : pool_(&pool), slot_(&slot), turn_(std::move(turn)) {}
        Lease(Lease&& other) noexcept
            : pool_(std::exchange(other.pool_, nullptr)), slot_(other.slot_), turn_(std::move(other.turn_)) {}
        Lease(const Lease&) = delete;
        Lease& operator=(const Lease&) = delete;
        Lease& operator=(Lease&&) = delete;
        ~Lease() {
            if (pool_ != nullptr) pool_->release(*slot_);
        }

        Connection& connection() const noexcept { return *slot_->connection; }

    private:
        ConnectionPool* pool_;
        Slot* slot_;
        std::unique_lock<std::recursive_mutex> turn_;  // held on a shared pool only
    };

    /// `first`, when given, is the pool's first connection (the one that created or migrated the database).
    explicit ConnectionPool(Policy policy, std::unique_ptr<Connection> first = nullptr)
        : policy_(std::move(policy)) {
        if (first) slots_.push_back(std::make_unique<Slot>(Slot{std::move(first), {}, false}));
    }
    ConnectionPool(const ConnectionPool&) = delete;
    ConnectionPool& operator=(const ConnectionPool&) = delete;

    /// A connection for the calling thread, as the policy's `leased` leaves it.
    Lease acquire() {
        Lease lease = policy_.shared() ? take_turn() : reserve();
        policy_.leased(lease.connection());
        return lease;
    }

    Policy& policy() noexcept { return policy_; }
    const Policy& policy() const noexcept { return policy_; }

    /// The connections the pool holds now (in use or idle).
    std::size_t size() {
        std::lock_guard lock(mutex_);
        return slots_.size();
    }

private:
    Lease take_turn() {
        std::unique_lock turn(shared_mutex_);
        if (slots_.empty()) slots_.push_back(std::make_unique<Slot>(Slot{policy_.open(), {}, false}));
        return Lease(*this, *slots_.front(), std::move(turn));
    }

    // A connection nobody else is using: the thread's last, another idle one, or a new one.
    Lease reserve() {
        const auto me = std::this_thread::get_id();
        std::vector<std::unique_ptr<Slot>> dead;  // closed outside the lock
        {
            std::lock_guard lock(mutex_);
            if (Slot* slot = find_idle(me, dead)) return take(*slot, me);
        }
        dead.clear();
        auto fresh = std::make_unique<Slot>(Slot{policy_.open(), {}, false});  // opening takes a while: unlocked
        std::lock_guard lock(mutex_);
        slots_.push_back(std::move(fresh));
        return take(*slots_.back(), me);
    }

    // The idle slot the thread used last, else any idle one, else nullptr; idle ones no longer open go to `dead`.
    Slot* find_idle(std::thread::id me, std::vector<std::unique_ptr<Slot>>& dead) {
        Slot* any_free = nullptr;
        for (auto it = slots_.begin(); it != slots_.end();) {
            Slot& slot = **it;
            if (!slot.in_use && !policy_.still_open(*slot.connection)) {
                dead.push_back(std::move(*it));
                it = slots_.erase(it);
                continue;
            }
            ++it;
            if (slot.in_use) continue;
            if (slot.last_user == me) return &slot;
            if (any_free == nullptr) any_free = &slot;
        }
        return any_free;
    }

    Lease take(Slot& slot, std::thread::id me) noexcept {
        slot.in_use = true;
        slot.last_user = me;
        return Lease(*this, slot, {});
    }

    void release(Slot& slot) noexcept {
        if (policy_.shared()) return;
        std::unique_ptr<Slot> dead;  // closed outside the lock
        std::lock_guard lock(mutex_);
        slot.in_use = false;
        if (policy_.keep(*slot.connection)) return;
        auto it = std::find_if(slots_.begin(), slots_.end(), [&](const auto& s) { return s.get() == &slot; });
        if (it == slots_.end()) return;
        dead = std::move(*it);
        slots_.erase(it);
    }

    Policy policy_;
    std::mutex mutex_;
    std::recursive_mutex shared_mutex_;
    std::vector<std::unique_ptr<Slot>> slots_;
};

}  // namespace allocation::detail
