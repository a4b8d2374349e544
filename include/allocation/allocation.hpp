// Umbrella header: the domain, the ports, the service layer and bootstrap.
#pragma once

#include "allocation/bootstrap.hpp"
#include "allocation/domain/commands.hpp"
#include "allocation/domain/errors.hpp"
#include "allocation/domain/events.hpp"
#include "allocation/domain/format.hpp"
#include "allocation/domain/json.hpp"
#include "allocation/domain/model.hpp"
#include "allocation/ports/notifications.hpp"
#include "allocation/ports/publisher.hpp"
#include "allocation/ports/repository.hpp"
#include "allocation/ports/unit_of_work.hpp"
#include "allocation/ports/views.hpp"
#include "allocation/service_layer/handlers.hpp"
#include "allocation/service_layer/message_bus.hpp"
#include "allocation/service_layer/views.hpp"
#include "allocation/view_changes.hpp"
