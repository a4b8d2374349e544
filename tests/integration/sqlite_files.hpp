// What the SQLite integration tests share: a directory of their own (temp_dir.hpp), and questions to a file asked
// directly.
#pragma once

#include <cstdint>
#include <string>

#include <SQLiteCpp/SQLiteCpp.h>

#include "temp_dir.hpp"

namespace allocation::testing {

/// The one number `sql` answers, asked of the file through a connection of its own.
inline std::int64_t count(const std::string& path, const std::string& sql) {
    SQLite::Database db(path, SQLite::OPEN_READONLY);
    return db.execAndGet(sql).getInt64();
}

}  // namespace allocation::testing
