// The raw floor on PostgreSQL: one allocation as the statements the adapter runs, through libpq only (no libpqxx,
// no domain model, no bus). Parameters go as text, as libpqxx sends them.
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
}

long long now_us() {
    return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

}  // namespace

double allocations_per_second(const std::string& uri, int allocations) {
    Connection connection = connect(uri);
    PGconn* db = connection.get();
    checked(db, PQexec(db, "INSERT INTO products (sku, version_number) VALUES ('RAW', 1)"), "seed product");
    const std::string batch = PQgetvalue(
        checked(db, PQexec(db, "INSERT INTO batches (reference, sku, purchased_quantity, eta, allocated_quantity) "
                               "VALUES ('raw-batch', 'RAW', 1000000000, NULL, 0) RETURNING id"), "seed batch").get(), 0, 0);
    prepare_allocation(db);
    const std::string purchased = "1000000000", qty = "1";
    long version = 1;
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < allocations; ++i) {
        const std::string orderid = "order-" + std::to_string(i), next = std::to_string(version + 1);
        execute(db, "begin", {});
        execute(db, "check", {"RAW", orderid});  // locks the product's row, as the adapter's lookup does
        if (std::string(PQcmdTuples(execute(db, "version", {next, "RAW", std::to_string(version)}).get())) != "1") {
            throw std::runtime_error("the version changed under the raw benchmark");
        }
        execute(db, "line", {orderid, "RAW", qty, batch});
        execute(db, "batch", {purchased, std::to_string(i + 1), batch});
        execute(db, "view", {orderid, "RAW", "raw-batch"});
        execute(db, "outbox", {"RAW", next, "0", "Allocated",
                               R"({"orderid":")" + orderid + R"(","sku":"RAW","qty":1,"batchref":"raw-batch"})",
                               std::to_string(now_us())});
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
