// How the PostgreSQL adapter words a failure, and which failures mean what: a lost race (ConcurrencyError), a
// commit whose outcome is unknown (CommitOutcomeUnknown), anything else (StorageError).
#pragma once

#include <string>
#include <string_view>

#include <pqxx/except>

#include "allocation/domain/errors.hpp"

namespace allocation::postgres {

/// The connection was lost while COMMIT was under way, so whether the transaction took effect is unknown. Never
/// a ConcurrencyError: a retry could apply the message twice. Check the stored state (or rely on the message id,
/// ports::ProcessedMessages) before doing it again.
class CommitOutcomeUnknown : public StorageError {
public:
    using StorageError::StorageError;
};

namespace detail {

/// The URI as it may be shown: a password in it is replaced by "***".
inline std::string redacted(std::string_view uri) {
    const auto scheme = uri.find("://");
    if (scheme == std::string_view::npos) {
        const auto password = uri.find("password=");
        if (password == std::string_view::npos) return std::string(uri);
        const auto end = uri.find(' ', password);
        return std::string(uri.substr(0, password)) + "password=***" +
               (end == std::string_view::npos ? std::string() : std::string(uri.substr(end)));
    }
    const auto authority = scheme + 3;
    const auto at = uri.find('@', authority);
    const auto slash = uri.find('/', authority);
    if (at == std::string_view::npos || (slash != std::string_view::npos && slash < at)) return std::string(uri);
    const auto colon = uri.find(':', authority);
    if (colon == std::string_view::npos || colon > at) return std::string(uri);
    return std::string(uri.substr(0, colon + 1)) + "***" + std::string(uri.substr(at));
}

/// A "what went wrong" message naming the database, the step and PostgreSQL's own explanation.
inline std::string describe(std::string_view where, std::string_view doing, std::string_view reason) {
    std::string text = "PostgreSQL database " + std::string(where) + ": " + std::string(doing) + ": " +
                       std::string(reason);
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
    return text;
}

/// The SQLSTATEs of a transaction that lost a race and may simply be run again.
inline bool is_lost_race(std::string_view sqlstate) noexcept {
    return sqlstate == "40001" /* serialization_failure */ || sqlstate == "40P01" /* deadlock_detected */;
}

/// Runs `fn`, translating libpqxx's exceptions: a lost race (40001, 40P01) into ConcurrencyError, a commit of
/// unknown outcome into CommitOutcomeUnknown, anything else into StorageError naming `where` and `doing`.
/// `broken()` is called when the connection can no longer be used, so that its pool drops it.
template <typename Fn, typename Broken>
decltype(auto) translated(std::string_view where, std::string_view doing, Broken&& broken, Fn&& fn) {
    try {
        return fn();
    } catch (const pqxx::in_doubt_error& e) {
        broken();
        throw CommitOutcomeUnknown(describe(where, doing, std::string("the outcome of the commit is unknown: ") + e.what()));
    } catch (const pqxx::statement_completion_unknown& e) {
        broken();
        throw CommitOutcomeUnknown(describe(where, doing, std::string("the outcome of the statement is unknown: ") + e.what()));
    } catch (const pqxx::serialization_failure& e) {
        throw ConcurrencyError(describe(where, doing, std::string("lost a race with another transaction: ") + e.what()));
    } catch (const pqxx::deadlock_detected& e) {
        throw ConcurrencyError(describe(where, doing, std::string("lost a race with another transaction: ") + e.what()));
    } catch (const pqxx::broken_connection& e) {
        broken();
        throw StorageError(describe(where, doing, std::string("the connection is lost: ") + e.what()));
    } catch (const pqxx::sql_error& e) {
        if (is_lost_race(e.sqlstate())) {
            throw ConcurrencyError(describe(where, doing, std::string("lost a race with another transaction: ") + e.what()));
        }
        throw StorageError(describe(where, doing, e.what()));
    } catch (const pqxx::failure& e) {
        broken();
        throw StorageError(describe(where, doing, e.what()));
    }
}

}  // namespace detail

}  // namespace allocation::postgres
