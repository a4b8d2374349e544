// The CSV batch job end to end: the real allocation-cli on files in a temporary directory.
#include <fcntl.h>
#include <pty.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#if ALLOCATION_E2E_SQLITE
#include <sqlite3.h>
#endif

#include "processes.hpp"
#include "support/catch.hpp"

using namespace e2e;

namespace {

RunResult allocate_csv(const TempDir& dir, std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"allocate-csv", dir.path().string()};
    args.insert(args.end(), extra.begin(), extra.end());
    TempDir scratch;
    return run(ALLOCATION_CLI_PATH, args, scratch.path());
}

std::vector<std::vector<std::string>> storages() {
#if ALLOCATION_E2E_SQLITE
    return {{}, {"--db"}};
#else
    return {{}};
#endif
}

bool has_temp_files(const TempDir& dir) {
    for (const auto& entry : fs::directory_iterator(dir.path())) {
        if (entry.path().filename().string().find(".tmp") != std::string::npos) return true;
    }
    return false;
}

#if ALLOCATION_E2E_SQLITE
/// What the server started on the job's database answers for GET /allocations/<orderid>.
std::string served_allocations(const std::string& db, const std::string& orderid) {
    Server server({"--db", db});
    auto client = server.client();
    auto response = client.Get("/allocations/" + orderid);
    REQUIRE(response);
    CHECK(response->status == 200);
    return response->body;
}
#endif

}  // namespace

TEST_CASE("allocate-csv: round trip, then re-runs that allocate nothing twice", "[e2e][csv]") {
    const auto storage = GENERATE(from_range(storages()));
    TempDir dir;
    std::vector<std::string> extra;
    if (!storage.empty()) extra = {"--db", (dir / "job.db").string()};

    write_file(dir / "batches.csv",
               "ref,sku,qty,eta\n"
               "later,RETRO-CLOCK,10,2026-12-24\n"
               "earliest,RETRO-CLOCK,10,2026-11-22\n"
               "warehouse,\"SOFA, RED\",5,\n");
    write_file(dir / "orders.csv",
               "orderid,sku,qty\r\n"
               "o1,RETRO-CLOCK,8\r\n"
               "o2,RETRO-CLOCK,8\r\n"
               "o3,\"SOFA, RED\",5\r\n"
               "o4,\"SOFA, RED\",1\r\n"
               "\r\n");

    auto first = allocate_csv(dir, extra);
    INFO(first.err);
    REQUIRE(first.exit_code == 0);
    CHECK_THAT(first.out, Catch::Contains("3 lines allocated, 0 already allocated, 1 out of stock "
                                          "(1 out-of-stock notifications)"));  // through the outbox, at once
    // In the directory, allocations.csv is the storage: its lines by product and batch. With --db it is the
    // database's answer for the lines of orders.csv, in their order.
    const std::string o1 = "o1,RETRO-CLOCK,8,earliest\n", o2 = "o2,RETRO-CLOCK,8,later\n",
                      o3 = "o3,\"SOFA, RED\",5,warehouse\n", o5 = "o5,RETRO-CLOCK,2,earliest\n";
    const std::string header = "orderid,sku,qty,batchref\n";
    const std::string expected = storage.empty() ? header + o2 + o1 + o3 : header + o1 + o2 + o3;
    CHECK(read_file(dir / "allocations.csv") == expected);
    CHECK(first.err.empty());  // no progress bar: stderr is not a terminal

    auto second = allocate_csv(dir, extra);
    REQUIRE(second.exit_code == 0);
    CHECK_THAT(second.out, Catch::Contains("0 lines allocated, 3 already allocated, 1 out of stock"));
    CHECK(read_file(dir / "allocations.csv") == expected);

    // A new order is allocated; the old ones stay where they were.
    write_file(dir / "orders.csv", read_file(dir / "orders.csv") + "o5,RETRO-CLOCK,2\n");
    auto third = allocate_csv(dir, extra);
    REQUIRE(third.exit_code == 0);
    CHECK_THAT(third.out, Catch::Contains("1 lines allocated, 3 already allocated, 1 out of stock"));
    CHECK(read_file(dir / "allocations.csv") == (storage.empty() ? header + o2 + o1 + o5 + o3 : expected + o5));
    CHECK_FALSE(has_temp_files(dir));
}

#if ALLOCATION_E2E_SQLITE
TEST_CASE("allocate-csv --db: the database remembers what allocations.csv lost", "[e2e][csv][sqlite]") {
    TempDir dir;
    const std::vector<std::string> db{"--db", (dir / "job.db").string()};
    write_file(dir / "batches.csv", "ref,sku,qty,eta\nb1,LAMP,3,\n");
    write_file(dir / "orders.csv", "orderid,sku,qty\no1,LAMP,2\n");
    REQUIRE(allocate_csv(dir, db).exit_code == 0);
    fs::remove(dir / "allocations.csv");
    auto again = allocate_csv(dir, db);
    REQUIRE(again.exit_code == 0);
    CHECK(read_file(dir / "allocations.csv") == "orderid,sku,qty,batchref\no1,LAMP,2,b1\n");
    // The line was not allocated twice: one unit is left, so a line of 2 does not fit.
    write_file(dir / "orders.csv", "orderid,sku,qty\no1,LAMP,2\no2,LAMP,2\n");
    auto third = allocate_csv(dir, db);
    CHECK_THAT(third.out, Catch::Contains("0 lines allocated, 1 already allocated, 1 out of stock"));
}
#endif

#if ALLOCATION_E2E_SQLITE
TEST_CASE("allocate-csv --db: the server started on the job's database answers for its orders", "[e2e][csv][sqlite]") {
    TempDir dir;
    const std::string db = (dir / "job.db").string();
    write_file(dir / "batches.csv", "ref,sku,qty,eta\nlater,CLOCK,10,2026-12-24\nearliest,CLOCK,10,2026-11-22\n");
    write_file(dir / "orders.csv", "orderid,sku,qty\no1,CLOCK,8\no2,CLOCK,8\n");
    auto job = allocate_csv(dir, {"--db", db});
    INFO(job.err);
    REQUIRE(job.exit_code == 0);

    Server server({"--db", db});
    auto client = server.client();
    auto o1 = client.Get("/allocations/o1");
    REQUIRE(o1);
    CHECK(o1->status == 200);
    CHECK(o1->body == R"([{"batchref":"earliest","sku":"CLOCK"}])");
    auto o2 = client.Get("/allocations/o2");
    REQUIRE(o2);
    CHECK(o2->status == 200);
    CHECK(o2->body == R"([{"batchref":"later","sku":"CLOCK"}])");
}

TEST_CASE("allocate-csv --db: bad input names its row, and the database keeps what came before it",
          "[e2e][csv][sqlite][bad-input]") {
    TempDir dir;
    const std::string db = (dir / "job.db").string();
    write_file(dir / "batches.csv", "ref,sku,qty,eta\nb1,CHAIR,10,\n");

    SECTION("an unknown sku on line 3 stops the job there; line 2 is allocated, and listed") {
        write_file(dir / "orders.csv", "orderid,sku,qty\no1,CHAIR,1\no2,SOFA,1\n");
        auto result = allocate_csv(dir, {"--db", db});
        CHECK(result.exit_code == 1);
        CHECK_THAT(result.err, Catch::Contains((dir / "orders.csv:3:4").string() + ": Invalid sku SOFA"));
        CHECK_THAT(result.err, Catch::Contains("stopped after 1 of 2 order lines; " + db + " holds the allocations"));
        CHECK(read_file(dir / "allocations.csv") == "orderid,sku,qty,batchref\no1,CHAIR,1,b1\n");
        CHECK(served_allocations(db, "o1") == R"([{"batchref":"b1","sku":"CHAIR"}])");
    }
    SECTION("allocations.csv is only the output: a row naming a batch that does not exist marks nothing done") {
        write_file(dir / "orders.csv", "orderid,sku,qty\no1,CHAIR,1\n");
        write_file(dir / "allocations.csv", "orderid,sku,qty,batchref\no1,CHAIR,1,no-such-batch\n");
        auto result = allocate_csv(dir, {"--db", db});
        INFO(result.err);
        REQUIRE(result.exit_code == 0);
        CHECK_THAT(result.out, Catch::Contains("1 lines allocated, 0 already allocated, 0 out of stock"));
        CHECK(read_file(dir / "allocations.csv") == "orderid,sku,qty,batchref\no1,CHAIR,1,b1\n");
        CHECK(served_allocations(db, "o1") == R"([{"batchref":"b1","sku":"CHAIR"}])");
    }
    SECTION("a sku known only to the database is fine") {
        write_file(dir / "orders.csv", "orderid,sku,qty\no1,CHAIR,1\n");
        REQUIRE(allocate_csv(dir, {"--db", db}).exit_code == 0);
        write_file(dir / "batches.csv", "ref,sku,qty,eta\nt1,TABLE,5,\n");
        write_file(dir / "orders.csv", "orderid,sku,qty\no2,CHAIR,2\no3,TABLE,1\n");
        auto result = allocate_csv(dir, {"--db", db});
        INFO(result.err);
        CHECK(result.exit_code == 0);
        CHECK_THAT(result.out, Catch::Contains("2 lines allocated, 0 already allocated"));
    }
    SECTION("a batches.csv row must match the batch the database has") {
        write_file(dir / "orders.csv", "orderid,sku,qty\no1,CHAIR,1\n");
        REQUIRE(allocate_csv(dir, {"--db", db}).exit_code == 0);
        const std::string before = read_file(dir / "allocations.csv");
        struct Case {
            std::string row, message;
        };
        for (const Case& c : std::vector<Case>{
                 {"b1,CHAIR,2,", "batch b1 is in " + db + " with qty 10, eta none, but this row says qty 2, eta none"},
                 {"b1,CHAIR,10,2026-01-02", "with qty 10, eta none, but this row says qty 10, eta 2026-01-02"},
                 {"b1,TABLE,10,", "batch b1 is in " + db + " with sku CHAIR, but this row says TABLE"}}) {
            INFO(c.row);
            write_file(dir / "batches.csv", "ref,sku,qty,eta\nb0,CHAIR,1,\n" + c.row + "\n");
            write_file(dir / "orders.csv", "orderid,sku,qty\no2,CHAIR,1\n");
            auto result = allocate_csv(dir, {"--db", db});
            CHECK(result.exit_code == 1);
            CHECK_THAT(result.err, Catch::Contains((dir / "batches.csv:3:1").string() + ": "));
            CHECK_THAT(result.err, Catch::Contains(c.message));
            CHECK(read_file(dir / "allocations.csv") == before);
        }
        // Nothing of those runs reached the database: b0 was never created.
        Server server({"--db", db});
        auto client = server.client();
        auto product = client.Get("/products/CHAIR");
        REQUIRE(product);
        CHECK_THAT(product->body, !Catch::Contains("b0"));
    }
}

TEST_CASE("allocate-csv --db: a storage failure midway says what the database holds", "[e2e][csv][sqlite]") {
    TempDir dir;
    const std::string db = (dir / "job.db").string();
    write_file(dir / "batches.csv", "ref,sku,qty,eta\nb1,CHAIR,10,\n");
    write_file(dir / "orders.csv", "orderid,sku,qty\no1,CHAIR,1\n");
    REQUIRE(allocate_csv(dir, {"--db", db}).exit_code == 0);
    write_file(dir / "orders.csv", "orderid,sku,qty\no1,CHAIR,1\no2,CHAIR,1\no3,CHAIR,1\no4,CHAIR,1\n");

    // The database refuses to store o3's line: a storage error after o2 was committed.
    auto sql = [&](const char* statement) {
        sqlite3* other = nullptr;
        REQUIRE(sqlite3_open(db.c_str(), &other) == SQLITE_OK);
        CHECK(sqlite3_exec(other, statement, nullptr, nullptr, nullptr) == SQLITE_OK);
        sqlite3_close(other);
    };
    sql("CREATE TRIGGER refuse_o3 BEFORE INSERT ON order_lines WHEN NEW.orderid = 'o3' "
        "BEGIN SELECT RAISE(ABORT, 'disk on fire'); END");
    auto blocked = allocate_csv(dir, {"--db", db});
    sql("DROP TRIGGER refuse_o3");
    CHECK(blocked.exit_code == 1);
    CHECK_THAT(blocked.err, Catch::Contains(db + " holds the allocations made so far"));
    CHECK_THAT(blocked.err, Catch::Contains("run the job again to complete it"));
    CHECK_THAT(blocked.err, Catch::Contains("stopped after 2 of 4 order lines"));
    CHECK_THAT(blocked.err, !Catch::Contains("unchanged"));
    // What the database committed is recorded in allocations.csv too.
    CHECK(read_file(dir / "allocations.csv") == "orderid,sku,qty,batchref\no1,CHAIR,1,b1\no2,CHAIR,1,b1\n");

    auto again = allocate_csv(dir, {"--db", db});
    INFO(again.err);
    CHECK(again.exit_code == 0);
    CHECK_THAT(again.out, Catch::Contains("2 lines allocated, 2 already allocated"));
}
#endif

TEST_CASE("allocate-csv: errors name file:line:column and leave allocations.csv alone", "[e2e][csv][bad-input]") {
    struct Case {
        std::string batches;
        std::string orders;
        std::string allocations;  // empty: no such file
        std::string where;        // file:line:column
        std::string message;
    };
    const std::string good_batches = "ref,sku,qty,eta\nb1,CHAIR,10,\n";
    const std::string good_orders = "orderid,sku,qty\no1,CHAIR,1\n";
    const std::vector<Case> cases = {
        {"", good_orders, "", "batches.csv:1:1", "empty file; expected the header ref,sku,qty,eta"},
        {"ref,sku,quantity,eta\n", good_orders, "", "batches.csv:1:1", "expected the header ref,sku,qty,eta"},
        {good_batches + "b2,CHAIR,5\n", good_orders, "", "batches.csv:3:10", "expected 4 fields (ref,sku,qty,eta), got 3"},
        {good_batches + "b2,CHAIR,5,,extra\n", good_orders, "", "batches.csv:3:13", "expected 4 fields"},
        {good_batches + "b2,CHAIR,five,\n", good_orders, "", "batches.csv:3:10", "qty must be a whole number"},
        {good_batches + "b2,CHAIR,0,\n", good_orders, "", "batches.csv:3:10", "qty must be a whole number between 1"},
        {good_batches + "b2,CHAIR,1000000001,\n", good_orders, "", "batches.csv:3:10", "qty must be a whole number between 1 and 1000000000, got '1000000001'"},
        {good_batches + "b2,CHAIR,5,2026-02-30\n", good_orders, "", "batches.csv:3:12", "eta must be a real date"},
        {good_batches + "b2,CHAIR,5,30/11/2026\n", good_orders, "", "batches.csv:3:12", "eta must be a real date"},
        {good_batches + "b2,,5,\n", good_orders, "", "batches.csv:3:4", "sku must not be empty"},
        {good_batches, "orderid,sku,qty\n\"o\x01\",CHAIR,1\n", "", "orders.csv:2:1", "orderid must not contain control characters"},
        {good_batches + "b1,TABLE,5,\n", good_orders, "", "batches.csv:3:1", "batch b1 appears twice"},
        {good_batches + "\"b2,CHAIR,5,\n", good_orders, "", "batches.csv:3:1", "unterminated quoted field"},
        {good_batches + "b\"2,CHAIR,5,\n", good_orders, "", "batches.csv:3:2", "a double quote inside an unquoted field"},
        {good_batches, "orderid,sku,qty\no1,CHAIR,1\no2,SOFA,1\n", "", "orders.csv:3:4", "Invalid sku SOFA"},
        {good_batches, "orderid,sku,qty\no1,CHAIR,-1\n", "", "orders.csv:2:10", "qty must be a whole number"},
        {good_batches, "orderid,sku\no1,CHAIR\n", "", "orders.csv:1:1",
         "expected the header orderid,sku,qty (in any order), but there is no column qty"},
        {good_batches, good_orders, "orderid,sku,qty,batchref\no0,CHAIR,1,nope\n", "allocations.csv:2:12",
         "batch nope of sku CHAIR is not in batches.csv"},
        {good_batches, good_orders, "orderid,sku,qty,batchref\no0,CHAIR,1\n", "allocations.csv:2:10",
         "expected 4 fields"},
        {"ref,sku,qty,eta\nb1,CHAIR,2,\n", good_orders, "orderid,sku,qty,batchref\no0,CHAIR,5,b1\n",
         "allocations.csv:2:12", "Stored batch b1 of CHAIR allocates 5 of 2 purchased"},
        {good_batches, good_orders, "orderid,sku,qty,batchref\no0,CHAIR,2,b1\no9,CHAIR,3,b1\no0,CHAIR,2,b1\n",
         "allocations.csv:4:12", "Stored product CHAIR"},
        {good_batches, good_orders, "orderid,sku,qty,batchref\no0,CHAIR,4,b1\no9,CHAIR,3,b1\no8,CHAIR,4,b1\n",
         "allocations.csv:4:12", "Stored batch b1 of CHAIR allocates 11 of 10 purchased"},
        // Columns in any order, a byte order mark, CRLF: read as csv.DictReader reads them; then a field too long.
        {"\xEF\xBB\xBFsku,eta,qty,ref\r\nCHAIR,,10,b1\r\n", "qty,orderid,sku\n1,o1,CHAIR\n2,o2,\"SOFA\n",
         "", "orders.csv:3:6", "unterminated quoted field"},
        {good_batches, "orderid,sku,qty\n" + std::string(5000, 'o') + ",CHAIR,1\n", "", "orders.csv:2:1",
         "field longer than 4096 bytes"},
    };
    for (const auto& c : cases) {
        INFO(c.where << ": " << c.message);
        TempDir dir;
        write_file(dir / "batches.csv", c.batches);
        write_file(dir / "orders.csv", c.orders);
        if (!c.allocations.empty()) write_file(dir / "allocations.csv", c.allocations);

        auto result = allocate_csv(dir);
        CHECK(result.exit_code == 1);
        CHECK_THAT(result.err, Catch::Contains((dir / c.where).string() + ": " + c.message));
        if (c.allocations.empty()) {
            CHECK_FALSE(fs::exists(dir / "allocations.csv"));
        } else {
            CHECK(read_file(dir / "allocations.csv") == c.allocations);
        }
        CHECK_FALSE(has_temp_files(dir));
    }

    SECTION("a missing input file") {
        TempDir dir;
        write_file(dir / "batches.csv", good_batches);
        auto result = allocate_csv(dir);
        CHECK(result.exit_code == 1);
        CHECK_THAT(result.err, Catch::Contains((dir / "orders.csv:1:1: cannot read the file").string()));
    }
    SECTION("a directory that does not exist") {
        TempDir scratch;
        auto result = run(ALLOCATION_CLI_PATH, {"allocate-csv", (scratch / "nowhere").string()}, scratch.path());
        CHECK(result.exit_code != 0);
        CHECK_THAT(result.err, Catch::Contains("Directory does not exist"));
    }
}

TEST_CASE("allocate-csv: files are read by their header, as csv.DictReader reads them", "[e2e][csv]") {
    const auto storage = GENERATE(from_range(storages()));
    TempDir dir;
    std::vector<std::string> extra;
    if (!storage.empty()) extra = {"--db", (dir / "job.db").string()};
    // A byte order mark, CRLF, columns in another order, an extra column, quoted fields with commas and quotes.
    write_file(dir / "batches.csv", "\xEF\xBB\xBF" "eta,qty,note,sku,ref\r\n,5,\"kept, aside\",\"SOFA, \"\"RED\"\"\",b1\r\n");
    write_file(dir / "orders.csv", "sku,qty,orderid\n\"SOFA, \"\"RED\"\"\",2,\"o,1\"\n");
    auto result = allocate_csv(dir, extra);
    INFO(result.err);
    REQUIRE(result.exit_code == 0);
    CHECK_THAT(result.out, Catch::Contains("1 lines allocated, 0 already allocated, 0 out of stock"));
    CHECK(read_file(dir / "allocations.csv") == "orderid,sku,qty,batchref\n\"o,1\",\"SOFA, \"\"RED\"\"\",2,b1\n");
}

TEST_CASE("allocate-csv: a run on a directory another process holds is refused at once", "[e2e][csv]") {
    const auto storage = GENERATE(from_range(storages()));
    TempDir dir;
    std::vector<std::string> extra;
    if (!storage.empty()) extra = {"--db", (dir / "job.db").string()};
    write_file(dir / "batches.csv", "ref,sku,qty,eta\nb1,CHAIR,10,\n");
    write_file(dir / "orders.csv", "orderid,sku,qty\no1,CHAIR,1\n");
    const int held = ::open(dir.path().c_str(), O_RDONLY | O_DIRECTORY);
    REQUIRE(held >= 0);
    REQUIRE(::flock(held, LOCK_EX | LOCK_NB) == 0);  // as a run under way holds it
    auto refused = allocate_csv(dir, extra);
    CHECK(refused.exit_code == 1);
    CHECK_THAT(refused.err, Catch::Contains(dir.path().string() + " is in use by another process"));
    CHECK_FALSE(fs::exists(dir / "allocations.csv"));
    ::close(held);
    auto after = allocate_csv(dir, extra);
    CHECK(after.exit_code == 0);
    CHECK(read_file(dir / "allocations.csv") == "orderid,sku,qty,batchref\no1,CHAIR,1,b1\n");
}

TEST_CASE("allocate-csv: a progress bar on stderr only when it is a terminal", "[e2e][csv]") {
    TempDir dir;
    write_file(dir / "batches.csv", "ref,sku,qty,eta\nb1,PEN,1000000,\n");
    std::string orders = "orderid,sku,qty\n";
    for (int i = 0; i < 20000; ++i) orders += "order-" + std::to_string(i) + ",PEN,1\n";
    write_file(dir / "orders.csv", orders);

    int master = -1;
    pid_t pid = ::forkpty(&master, nullptr, nullptr, nullptr);
    REQUIRE(pid >= 0);
    if (pid == 0) {
        ::execl(ALLOCATION_CLI_PATH, ALLOCATION_CLI_PATH, "allocate-csv", dir.path().c_str(), static_cast<char*>(nullptr));
        ::_exit(127);
    }
    std::string terminal;
    char buffer[4096];
    for (;;) {
        ssize_t n = ::read(master, buffer, sizeof buffer);
        if (n <= 0) break;  // EIO once the child has exited
        terminal.append(buffer, static_cast<std::size_t>(n));
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    ::close(master);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
    CHECK_THAT(terminal, Catch::Contains("allocating ["));
    CHECK_THAT(terminal, Catch::Contains("100% 20000/20000"));

    fs::remove(dir / "allocations.csv");
    auto piped = allocate_csv(dir);
    REQUIRE(piped.exit_code == 0);
    CHECK(piped.err.empty());
    CHECK_THAT(piped.out, Catch::Contains("20000 lines allocated"));
}
