// The PostgreSQL adapter: a durable repository, unit of work, read model and outbox that many service instances
// share on one database.
#pragma once

#include "allocation/adapters/postgres/database.hpp"
#include "allocation/adapters/postgres/errors.hpp"
#include "allocation/adapters/postgres/options.hpp"
#include "allocation/adapters/postgres/outbox.hpp"
#include "allocation/adapters/postgres/processed_messages.hpp"
#include "allocation/adapters/postgres/repository.hpp"
#include "allocation/adapters/postgres/unit_of_work.hpp"
#include "allocation/adapters/postgres/views.hpp"
