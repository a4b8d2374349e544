// A notifier and a publisher that remember what they were given: for tests and prototypes.
#pragma once

#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "allocation/domain/events.hpp"
#include "allocation/ports/notifications.hpp"
#include "allocation/ports/outbox.hpp"
#include "allocation/ports/publisher.hpp"

namespace allocation::memory {

struct SentMessage {
    std::string destination;
    std::string message;
    friend bool operator==(const SentMessage&, const SentMessage&) = default;
};

class RecordingNotifier {
public:
    void send(std::string_view destination, std::string_view message) {
        std::lock_guard lock(mutex_);
        sent_.push_back({std::string(destination), std::string(message)});
    }
    std::vector<SentMessage> sent() const {
        std::lock_guard lock(mutex_);
        return sent_;
    }

private:
    mutable std::mutex mutex_;
    std::vector<SentMessage> sent_;
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
        std::lock_guard lock(mutex_);
        published_.push_back({std::string(channel), message.event, message.id});
    }
    std::vector<PublishedEvent> published() const {
        std::lock_guard lock(mutex_);
        return published_;
    }

private:
    mutable std::mutex mutex_;
    std::vector<PublishedEvent> published_;
};

static_assert(ports::diagnose_event_publisher<RecordingPublisher>());

}  // namespace allocation::memory
