// Composition root: binds the adapters to the handlers once and returns a ready message bus.
#pragma once

#include <utility>

#include "allocation/service_layer/message_bus.hpp"

namespace allocation {

/// Builds the message bus from a unit-of-work factory (which also brings the read model: each unit of work
/// stores its view changes with its commit), a notifier and a publisher. The bus keeps references to the last
/// two, so they must outlive it; the factory is copied in.
template <ports::UnitOfWorkFactory Factory, ports::Notifier Notify, ports::EventPublisher Publish>
MessageBus<Factory, Notify, Publish> bootstrap(Factory uow_factory, Notify& notifier, Publish& publisher,
                                               BusOptions options = {}) {
    return MessageBus<Factory, Notify, Publish>(std::move(uow_factory), notifier, publisher, std::move(options));
}

}  // namespace allocation
