// The adapters the contract suite runs against: each gives a unit-of-work factory and a read model.
#pragma once

#include <tuple>

#include "allocation/adapters/memory/memory.hpp"

namespace allocation::contract {

struct MemoryAdapter {
    static constexpr const char* name = "memory";
    memory::Store store;
    memory::AllocationsView allocations_view;
    memory::UnitOfWorkFactory factory() { return memory::UnitOfWorkFactory(store); }
    memory::AllocationsView& view() { return allocations_view; }
};

using Adapters = std::tuple<MemoryAdapter>;

}  // namespace allocation::contract
