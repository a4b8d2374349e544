// The floor for the PostgreSQL benchmark: the allocation transaction the adapter runs, written directly against
// libpq.
#pragma once

#include <string>

namespace bench_raw_postgres {

/// What the floor sends for one allocation into a product the adapter keeps between units of work, each
/// statement prepared once and sent on its own, as the adapter does:
/// - `one_statement`, as the adapter sends it: BEGIN, the check that the kept product is current, which locks its
///   row (SELECT version and whether the order has a line, FOR UPDATE), the commit's rows in one statement (the
///   compare-and-set of the version, the line, the batch's allocated quantity, the view row, the outbox row), COMMIT:
///   four round trips;
/// - `statement_per_row`, each of those rows its own statement: eight round trips.
enum class Floor { one_statement, statement_per_row };

/// Allocations per second, on the database at `uri` (which has the adapter's schema and nothing in it), of `floor`.
/// Throws std::runtime_error on any error.
double allocations_per_second(const std::string& uri, int allocations, Floor floor);

/// Microseconds per round trip of a prepared "SELECT 1" on one connection to `uri`.
double round_trip_us(const std::string& uri, int count);

}  // namespace bench_raw_postgres
