// The SQLite adapter: a durable repository, unit of work and read model in one database file (or ":memory:").
#pragma once

#include "allocation/adapters/sqlite/database.hpp"
#include "allocation/adapters/sqlite/repository.hpp"
#include "allocation/adapters/sqlite/unit_of_work.hpp"
#include "allocation/adapters/sqlite/views.hpp"
