// A transaction as a scope, in the style of SQLite::Transaction: rolled back when it ends uncommitted.
#pragma once

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>
#include <sqlite3.h>

#include "allocation/adapters/sqlite/statements.hpp"

namespace allocation::sqlite::detail {

/// Runs `begin` (BEGIN or BEGIN IMMEDIATE) now, `commit` on commit(), and ROLLBACK when the scope ends without
/// a commit that succeeded, however it ends. The statements are the connection's prepared ones (or the caller's),
/// so that a transaction costs no parsing.
class Transaction {
public:
    Transaction(SQLite::Database& db, SQLite::Statement& begin, SQLite::Statement& commit)
        : db_(db), commit_(commit) {
        Use(begin)->exec();
    }
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;
    ~Transaction() {
        // A failed COMMIT may leave the transaction open (SQLITE_BUSY), or SQLite may have ended it already.
        if (!committed_ && sqlite3_get_autocommit(db_.getHandle()) == 0) db_.tryExec("ROLLBACK");
    }

    void commit() {
        Use(commit_)->exec();
        committed_ = true;
    }

private:
    SQLite::Database& db_;
    SQLite::Statement& commit_;
    bool committed_ = false;
};

}  // namespace allocation::sqlite::detail
