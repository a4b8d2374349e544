// Composition root: binds the adapters to the handlers once and returns a ready message bus.
#pragma once

#include <utility>

#include "allocation/service_layer/message_bus.hpp"

namespace allocation {

/// Builds the message bus from a unit-of-work factory (which also brings the read model and the outbox: each unit
/// of work stores its view changes and its outbox rows with its commit) and the Delivery that takes each commit's
/// outbox rows (an allocation::Relay over that outbox, with the outbound handlers: handlers::Outbound(notifier,
/// publisher)). The bus keeps a reference to the delivery, which must outlive it; the factory is copied in.
template <ports::UnitOfWorkFactory Factory, Delivery Deliver>
MessageBus<Factory, Deliver> bootstrap(Factory uow_factory, Deliver& delivery, BusOptions options = {}) {
    return MessageBus<Factory, Deliver>(std::move(uow_factory), delivery, std::move(options));
}

}  // namespace allocation
