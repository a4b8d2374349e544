// In-memory processed-message ids: the store keeps the committed ones, each unit of work those it recorded.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "allocation/detail/string_hash.hpp"
#include "allocation/ports/processed_messages.hpp"

namespace allocation::memory {

/// The ids of the messages committed units of work applied, with the time of their commit.
using MessageIds = std::unordered_map<std::string, std::chrono::system_clock::time_point, allocation::detail::StringHash,
                                      std::equal_to<>>;

/// One unit of work's ProcessedMessages: the store's committed ids, and the ids it recorded since its last commit.
/// The unit of work holds the store's lock, so no other commit can record an id meanwhile.
class ProcessedMessages {
public:
    explicit ProcessedMessages(MessageIds& committed) noexcept : committed_(&committed) {}

    bool seen(std::string_view id) const {
        return committed_->contains(id) || std::find(pending_.begin(), pending_.end(), id) != pending_.end();
    }
    void record(std::string_view id) { pending_.emplace_back(id); }

    /// The store's ids, under its lock (the unit of work holds it).
    std::size_t purge(std::chrono::system_clock::time_point recorded_before) {
        return std::erase_if(*committed_, [&](const auto& entry) { return entry.second < recorded_before; });
    }

    /// Adds the recorded ids to `committed` (the store's, under its lock): all of them, or none if it throws.
    void commit_to(MessageIds& committed) {
        const auto now = std::chrono::system_clock::now();
        std::size_t added = 0;
        try {
            for (; added < pending_.size(); ++added) committed.emplace(pending_[added], now);
        } catch (...) {
            for (std::size_t i = 0; i < added; ++i) committed.erase(pending_[i]);
            throw;
        }
        pending_.clear();
    }
    void rollback() noexcept { pending_.clear(); }
    /// How many ids were recorded since the last commit; forget_after(n) forgets those after the first n.
    std::size_t recorded() const noexcept { return pending_.size(); }
    void forget_after(std::size_t count) noexcept {
        pending_.erase(pending_.begin() + static_cast<std::ptrdiff_t>(count), pending_.end());
    }

private:
    MessageIds* committed_;
    std::vector<std::string> pending_;
};

static_assert(ports::ProcessedMessages<ProcessedMessages>);

}  // namespace allocation::memory
