// How the SQLite adapter words a failure: the file, what it was doing, and SQLite's own reason.
#pragma once

#include <string>
#include <string_view>

#include <SQLiteCpp/Exception.h>
#include <sqlite3.h>

namespace allocation::sqlite::detail {

/// A "what went wrong" message naming the file, the step and SQLite's own explanation.
inline std::string describe(std::string_view path, std::string_view doing, std::string_view reason) {
    return "SQLite database " + std::string(path) + ": " + std::string(doing) + ": " + std::string(reason);
}

/// Whether SQLite refused a write because of a constraint (UNIQUE, NOT NULL, a foreign key...).
inline bool is_constraint_clash(const SQLite::Exception& e) noexcept {
    return (e.getErrorCode() & 0xff) == SQLITE_CONSTRAINT;
}

}  // namespace allocation::sqlite::detail
