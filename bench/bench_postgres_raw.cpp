// The raw floor on PostgreSQL: one allocation as the statements the adapter runs (or, for comparison, the same rows
// a statement each), through libpq only (no libpqxx, no domain model, no bus). Parameters go as text, as libpqxx
// sends them.
#include "bench_postgres_raw.hpp"

#include <libpq-fe.h>

#include <chrono>
#include <initializer_list>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace bench_raw_postgres {
namespace {

using Connection = std::unique_ptr<PGconn, decltype(&PQfinish)>;
using Result = std::unique_ptr<PGresult, decltype(&PQclear)>;

Connection connect(const std::string& uri) {
    Connection connection(PQconnectdb(uri.c_str()), &PQfinish);
    if (PQstatus(connection.get()) != CONNECTION_OK) {
        throw std::runtime_error("cannot connect to " + uri + ": " + PQerrorMessage(connection.get()));
    }
    return connection;
}

Result checked(PGconn* db, PGresult* raw, const char* what) {
    Result result(raw, &PQclear);
    const auto status = PQresultStatus(result.get());
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
        throw std::runtime_error(std::string(what) + ": " + PQerrorMessage(db));
    }
    return result;
}

void prepare(PGconn* db, const char* name, const char* sql) { checked(db, PQprepare(db, name, sql, 0, nullptr), sql); }

Result execute(PGconn* db, const char* name, std::initializer_list<std::string> params) {
    std::vector<const char*> values;
    for (const auto& p : params) values.push_back(p.c_str());
    return checked(db, PQexecPrepared(db, name, static_cast<int>(values.size()), values.data(), nullptr, nullptr, 0), name);
}

void prepare_allocation(PGconn* db) {
    prepare(db, "check", "SELECT version_number, EXISTS (SELECT 1 FROM order_lines WHERE orderid = $2 AND sku = $1) "
                         "FROM products WHERE sku = $1 FOR UPDATE");
    prepare(db, "begin", "BEGIN");
    prepare(db, "commit", "COMMIT");
    prepare(db, "version", "UPDATE products SET version_number = $1 WHERE sku = $2 AND version_number = $3");
    prepare(db, "line", "INSERT INTO order_lines (orderid, sku, qty, batch_id) VALUES ($1, $2, $3, $4)");
    prepare(db, "batch", "UPDATE batches SET purchased_quantity = $1, allocated_quantity = $2 WHERE id = $3");
    prepare(db, "view", "INSERT INTO allocations_view (orderid, sku, batchref) VALUES ($1, $2, $3) "
                        "ON CONFLICT (orderid, sku) DO UPDATE SET batchref = excluded.batchref");
    prepare(db, "outbox", "INSERT INTO outbox (sku, version_number, position, event_type, payload, created_at, "
                          "next_attempt_at) VALUES ($1, $2, $3, $4, $5, $6, $6)");
    // The adapter's sql::commit_rows, as it sends it.
    prepare(db, "rows",
            "WITH versions AS (UPDATE products p SET version_number = v.new FROM unnest($1::text[], $2::bigint[], "
            "$3::bigint[]) AS v(sku, new, old) WHERE p.sku = v.sku AND p.version_number = v.old RETURNING 1), "
            "lines AS (INSERT INTO order_lines (orderid, sku, qty, batch_id) "
            "SELECT * FROM unnest($4::text[], $5::text[], $6::integer[], $7::bigint[])), "
            "waiting AS (INSERT INTO waiting_lines (orderid, sku, qty) SELECT * FROM unnest($8::text[], $9::text[], "
            "$10::integer[])), "
            "batch_rows AS (UPDATE batches b SET purchased_quantity = v.purchased, allocated_quantity = v.allocated "
            "FROM unnest($11::bigint[], $12::integer[], $13::integer[]) AS v(id, purchased, allocated) WHERE b.id = "
            "v.id), "
            "view_rows AS (INSERT INTO allocations_view (orderid, sku, batchref) SELECT * FROM unnest($14::text[], "
            "$15::text[], $16::text[]) ON CONFLICT (orderid, sku) DO UPDATE SET batchref = excluded.batchref), "
            "outbox_rows AS (INSERT INTO outbox (sku, version_number, position, event_type, payload, created_at, "
            "next_attempt_at) SELECT * FROM unnest($17::text[], $18::bigint[], $19::bigint[], $20::text[], "
            "$21::text[], $22::bigint[], $23::bigint[]) ON CONFLICT DO NOTHING RETURNING 1), "
            "processed AS (INSERT INTO processed_messages (id, processed_at) SELECT m.id, $25 FROM "
            "unnest($24::text[]) AS m(id) ON CONFLICT DO NOTHING RETURNING 1) "
            "SELECT (SELECT count(*) FROM versions), (SELECT count(*) FROM outbox_rows), "
            "(SELECT count(*) FROM processed)");
}

/// One allocation's rows, their values as the statements take them.
struct Allocation {
    std::string orderid, version, next, allocated, batch, payload, now;
};

// Each row its own statement, the compare-and-set's count checked.
void write_per_row(PGconn* db, const Allocation& a) {
    if (std::string(PQcmdTuples(execute(db, "version", {a.next, "RAW", a.version}).get())) != "1") {
        throw std::runtime_error("the version changed under the raw benchmark");
    }
    execute(db, "line", {a.orderid, "RAW", "1", a.batch});
    execute(db, "batch", {"1000000000", a.allocated, a.batch});
    execute(db, "view", {a.orderid, "RAW", "raw-batch"});
    execute(db, "outbox", {"RAW", a.next, "0", "Allocated", a.payload, a.now});
}

// Every row in one statement, each table's as arrays, as the adapter writes them (text_array quotes each element).
void write_in_one(PGconn* db, const Allocation& a) {
    auto one = [](const std::string& item) { return "{\"" + item + "\"}"; };
    std::string payload = "{\"";
    for (char c : a.payload) payload += (c == '"' || c == '\\') ? std::string("\\") + c : std::string(1, c);
    payload += "\"}";
    const auto result = execute(db, "rows", {one("RAW"), "{" + a.next + "}", "{" + a.version + "}", one(a.orderid),
                                             one("RAW"), "{1}", "{" + a.batch + "}", "{}", "{}", "{}",
                                             "{" + a.batch + "}", "{1000000000}", "{" + a.allocated + "}",
                                             one(a.orderid), one("RAW"), one("raw-batch"), one("RAW"),
                                             "{" + a.next + "}", "{0}", one("Allocated"), payload,
                                             "{" + a.now + "}", "{" + a.now + "}", "{}", a.now});
    if (std::string(PQgetvalue(result.get(), 0, 0)) != "1") {
        throw std::runtime_error("the version changed under the raw benchmark");
    }
}

long long now_us() {
    return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

}  // namespace

double allocations_per_second(const std::string& uri, int allocations, Floor floor) {
    Connection connection = connect(uri);
    PGconn* db = connection.get();
    checked(db, PQexec(db, "INSERT INTO products (sku, version_number) VALUES ('RAW', 1)"), "seed product");
    const std::string batch = PQgetvalue(
        checked(db, PQexec(db, "INSERT INTO batches (reference, sku, purchased_quantity, eta, allocated_quantity) "
                               "VALUES ('raw-batch', 'RAW', 1000000000, NULL, 0) RETURNING id"), "seed batch").get(), 0, 0);
    prepare_allocation(db);
    const auto write = floor == Floor::one_statement ? write_in_one : write_per_row;
    long version = 1;
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < allocations; ++i) {
        const std::string orderid = "order-" + std::to_string(i);
        const Allocation allocation{orderid, std::to_string(version), std::to_string(version + 1),
                                    std::to_string(i + 1), batch,
                                    R"({"orderid":")" + orderid + R"(","sku":"RAW","qty":1,"batchref":"raw-batch"})",
                                    std::to_string(now_us())};
        execute(db, "begin", {});
        execute(db, "check", {"RAW", orderid});  // locks the product's row, as the adapter's lookup does
        write(db, allocation);
        execute(db, "commit", {});
        version += 1;
    }
    const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
    return allocations / elapsed.count();
}

double round_trip_us(const std::string& uri, int count) {
    Connection connection = connect(uri);
    prepare(connection.get(), "one", "SELECT 1");
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < count; ++i) execute(connection.get(), "one", {});
    const std::chrono::duration<double, std::micro> elapsed = std::chrono::steady_clock::now() - start;
    return elapsed.count() / count;
}

}  // namespace bench_raw_postgres
