// The rule every SQL adapter applies to a stored schema's version before it touches the database, written once: a
// schema newer than the adapter knows is refused, so that an older program never writes to a database it does not
// understand.
#pragma once

#include <string>
#include <string_view>

#include "allocation/domain/errors.hpp"

namespace allocation::detail {

/// Throws StorageError when the stored schema's version `found` is newer than `newest`, the newest the adapter
/// knows. `describe(where, doing, reason)` is the adapter's wording of what went wrong with its database `where`.
template <typename Describe>
void refuse_if_newer(Describe&& describe, std::string_view where, int found, int newest) {
    if (found <= newest) return;
    throw StorageError(describe(where, "refusing to open",
                                "its schema version " + std::to_string(found) +
                                    " is newer than the newest this library supports (" + std::to_string(newest) +
                                    "); use a newer version of allocation"));
}

}  // namespace allocation::detail
