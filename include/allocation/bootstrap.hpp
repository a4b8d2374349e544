// Composition root: binds the adapters to the handlers once and returns a ready message bus.
#pragma once

#include <utility>

#include "allocation/service_layer/message_bus.hpp"

namespace allocation {

/// Builds the message bus from a unit-of-work factory, a read model, a notifier and a publisher. The bus
/// keeps references to the last three, so they must outlive it; the factory is copied in.
template <ports::UnitOfWorkFactory Factory, ports::AllocationsView View, ports::Notifier Notify,
          ports::EventPublisher Publish>
MessageBus<Factory, View, Notify, Publish> bootstrap(Factory uow_factory, View& view, Notify& notifier,
                                                     Publish& publisher, BusOptions options = {}) {
    return MessageBus<Factory, View, Notify, Publish>(std::move(uow_factory), view, notifier, publisher,
                                                      std::move(options));
}

}  // namespace allocation
