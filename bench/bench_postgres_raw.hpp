// The floor for the PostgreSQL benchmark: the allocation transaction the adapter runs, written directly against
// libpq.
#pragma once

#include <string>

namespace bench_raw_postgres {

/// Allocations per second, on the database at `uri` (which has the adapter's schema and nothing in it), of the
/// statements the adapter sends for one allocation into a product it keeps between units of work: BEGIN, the check
/// that the kept product is current, which locks its row (SELECT version and whether the order has a line, FOR
/// UPDATE), the compare-and-set of
/// the version, INSERT of the line, UPDATE of the batch's allocated quantity, INSERT of the view row, INSERT of the
/// outbox row, COMMIT. Each statement is prepared once and sent on its own, as the adapter does. Throws
/// std::runtime_error on any error.
double allocations_per_second(const std::string& uri, int allocations);

/// Microseconds per round trip of a prepared "SELECT 1" on one connection to `uri`.
double round_trip_us(const std::string& uri, int count);

}  // namespace bench_raw_postgres
