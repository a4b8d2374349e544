// A notifier and a publisher that remember what they were given: for tests and prototypes.
#pragma once

#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "allocation/domain/events.hpp"
#include "allocation/ports/notifications.hpp"
#include "allocation/ports/outbox.hpp"
#include "allocation/ports/publisher.hpp"

namespace allocation::memory {

namespace detail {
/// What a recording adapter was given, in order; from any number of threads.
template <typename T>
class Record {
public:
    void add(T item) {
        std::lock_guard lock(mutex_);
        items_.push_back(std::move(item));
    }
    std::vector<T> items() const {
        std::lock_guard lock(mutex_);
        return items_;
    }

private:
    mutable std::mutex mutex_;
    std::vector<T> items_;
};
}  // namespace detail

struct SentMessage {
    std::string destination;
    std::string message;
    friend bool operator==(const SentMessage&, const SentMessage&) = default;
};

class RecordingNotifier {
public:
    void send(std::string_view destination, std::string_view message) {
        sent_.add({std::string(destination), std::string(message)});
    }
    std::vector<SentMessage> sent() const { return sent_.items(); }

private:
    detail::Record<SentMessage> sent_;
};

static_assert(ports::diagnose_notifier<RecordingNotifier>());

struct PublishedEvent {
    std::string channel;
    events::Event event;
    /// The message id it was published with (the outbox row's id).
    std::string id;
    friend bool operator==(const PublishedEvent&, const PublishedEvent&) = default;
};

class RecordingPublisher {
public:
    void publish(std::string_view channel, const ports::OutboxMessage& message) {
        published_.add({std::string(channel), message.event, message.id});
    }
    std::vector<PublishedEvent> published() const { return published_.items(); }

private:
    detail::Record<PublishedEvent> published_;
};

static_assert(ports::diagnose_event_publisher<RecordingPublisher>());

}  // namespace allocation::memory
