// The in-memory adapter: every port of allocation, kept in this process's memory.
#pragma once

#include "allocation/adapters/memory/null_notifier.hpp"
#include "allocation/adapters/memory/null_publisher.hpp"
#include "allocation/adapters/memory/outbox.hpp"
#include "allocation/adapters/memory/processed_messages.hpp"
#include "allocation/adapters/memory/recording.hpp"
#include "allocation/adapters/memory/repository.hpp"
#include "allocation/adapters/memory/store.hpp"
#include "allocation/adapters/memory/string_map.hpp"
#include "allocation/adapters/memory/unit_of_work.hpp"
#include "allocation/adapters/memory/views.hpp"
