// The SQLite adapter: a durable repository, unit of work, read model and outbox in one database file (or ":memory:").
#pragma once

#include "allocation/adapters/sqlite/database.hpp"
#include "allocation/adapters/sqlite/outbox.hpp"
#include "allocation/adapters/sqlite/processed_messages.hpp"
#include "allocation/adapters/sqlite/repository.hpp"
#include "allocation/adapters/sqlite/unit_of_work.hpp"
#include "allocation/adapters/sqlite/views.hpp"
