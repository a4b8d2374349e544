// The CSV adapter on real files in a temporary directory: the parser, atomic commits, the lock, what survives
// reopening the directory, and what a directory of files cannot keep.
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "allocation/adapters/csv/csv.hpp"
#include "allocation/adapters/memory/recording.hpp"
#include "allocation/allocation.hpp"
#include "catch.hpp"
#include "recording_delivery.hpp"
#include "temp_dir.hpp"

using namespace allocation;
namespace fs = std::filesystem;

namespace {

void write_file(const fs::path& path, const std::string& text) {
    std::ofstream(path, std::ios::binary) << text;
}

std::string read_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

bool has_temp_files(const fs::path& dir) {
    for (const auto& entry : fs::directory_iterator(dir)) {
        if (entry.path().filename().string().find(".tmp-") != std::string::npos) return true;
    }
    return false;
}

std::string error_of(auto&& f) {
    try {
        f();
    } catch (const std::exception& error) {
        return error.what();
    }
    return "(no error)";
}

const std::string batches = "ref,sku,qty,eta\nb1,LAMP,10,\nb2,LAMP,10,2027-01-03\n";

void allocate(csv::Directory& directory, const std::string& orderid, int qty) {
    auto uow = csv::UnitOfWorkFactory(directory)();
    handlers::allocate(commands::Allocate{orderid, "LAMP", qty}, uow);
}

}  // namespace

TEST_CASE("csv parser: reads what csv.DictReader reads", "[csv][parser]") {
    SECTION("a byte order mark, CRLF, quoted commas, doubled quotes and a quoted line break") {
        auto records = csv::parse("\xEF\xBB\xBF" "a,b\r\n\"x, y\",\"say \"\"hi\"\"\"\r\n\r\n\"two\nlines\",z\n", "f.csv");
        REQUIRE(records.size() == 3);
        CHECK(records[0].fields[0].text == "a");
        CHECK(records[1].fields[0].text == "x, y");
        CHECK(records[1].fields[1].text == "say \"hi\"");
        CHECK(records[2].line == 4);
        CHECK(records[2].fields[0].text == "two\nlines");
    }
    SECTION("columns by header, in any order, extra ones aside") {
        csv::Table table(csv::parse("qty,extra,sku\n3,x,LAMP\n", "f.csv"), "f.csv", {"sku", "qty"});
        REQUIRE(table.size() == 1);
        CHECK(table.at(table.row(0), 0).text == "LAMP");
        CHECK(table.at(table.row(0), 1).text == "3");
        CHECK(table.where(table.row(0), 1).column == 1);
    }
    SECTION("errors name file:line:column") {
        CHECK(error_of([] { csv::Table(csv::parse("sku,eta\n", "f.csv"), "f.csv", {"sku", "qty"}); }) ==
              "f.csv:1:1: expected the header sku,qty (in any order), but there is no column qty");
        CHECK(error_of([] { csv::Table(csv::parse("sku,qty\nLAMP\n", "f.csv"), "f.csv", {"sku", "qty"}); }) ==
              "f.csv:2:1: expected 2 fields (sku,qty), got 1");
        CHECK(error_of([] { csv::parse("a,b\nx,\"open\n", "f.csv"); }) == "f.csv:2:3: unterminated quoted field");
        CHECK(error_of([] { csv::parse("a,b\nx,y\"z\n", "f.csv"); }) ==
              "f.csv:2:4: a double quote inside an unquoted field");
        CHECK(error_of([] { csv::parse("a,\"b\"c\n", "f.csv"); }) == "f.csv:1:6: unexpected character after a closing quote");
        CHECK(error_of([] { csv::Table(csv::parse("", "f.csv"), "f.csv", {"sku"}); }) ==
              "f.csv:1:1: empty file; expected the header sku");
    }
    SECTION("a field longer than max_field_length is refused, quoted or not; one of that length is read") {
        const std::string longest(csv::max_field_length, 'x');
        CHECK(csv::parse("a\n" + longest + "\n", "f.csv")[1].fields[0].text == longest);
        CHECK(error_of([&] { csv::parse("a\n" + longest + "y\n", "f.csv"); }) == "f.csv:2:1: field longer than 4096 bytes");
        CHECK(error_of([&] { csv::parse("a,b\n1,\"" + longest + "y\"\n", "f.csv"); }) ==
              "f.csv:2:3: field longer than 4096 bytes");
    }
    SECTION("what field() writes, parse() reads back") {
        // A field that begins with a byte order mark, first in its file, is quoted so as not to be taken for one.
        for (std::string text : {"plain", "with, comma", "with \"quotes\"", " spaced ", "two\r\nlines", "", "\xEF\xBB\xBF" "x"}) {
            auto records = csv::parse(csv::field(text) + ",end\n", "f.csv");
            REQUIRE(records.size() == 1);
            CHECK(records[0].fields[0].text == text);
        }
    }
}

TEST_CASE("csv: rows are checked by the domain's rules and refused with their place", "[csv]") {
    testing::TempDir dir("allocation-csv");
    write_file(dir.path / "batches.csv", batches);
    SECTION("a line naming a batch that is not there") {
        write_file(dir.path / "allocations.csv", "batchref,qty,sku,orderid\nb9,1,LAMP,o1\n");
        CHECK(error_of([&] { csv::Directory d(csv::Options{.directory = dir.path}); }) ==
              dir.file("allocations.csv") + ":2:1: batch b9 of sku LAMP is not in batches.csv");
    }
    SECTION("a batch holding more than it has") {
        write_file(dir.path / "allocations.csv", "orderid,sku,qty,batchref\no1,LAMP,6,b1\no2,LAMP,6,b1\n");
        CHECK(error_of([&] { csv::Directory d(csv::Options{.directory = dir.path}); }) ==
              dir.file("allocations.csv") + ":3:11: Stored batch b1 of LAMP allocates 12 of 10 purchased");
    }
    SECTION("a missing batches.csv, unless the directory may be created") {
        fs::remove(dir.path / "batches.csv");
        CHECK_THAT(error_of([&] { csv::Directory d(csv::Options{.directory = dir.path}); }),
                   Catch::Contains(dir.file("batches.csv") + ":1:1: cannot read the file"));
        csv::Directory created(csv::Options{.directory = dir.path, .create = true});
        CHECK(csv::UnitOfWorkFactory(created)().products().get("LAMP") == nullptr);
    }
}

TEST_CASE("csv: a commit rewrites allocations.csv atomically and keeps its mode", "[csv]") {
    testing::TempDir dir("allocation-csv");
    write_file(dir.path / "batches.csv", batches);
    write_file(dir.path / "allocations.csv", "orderid,sku,qty,batchref\no0,LAMP,1,b2\n");
    REQUIRE(::chmod(dir.file("allocations.csv").c_str(), 0600) == 0);
    {
        csv::Directory directory(csv::Options{.directory = dir.path});
        allocate(directory, "o1", 3);
        CHECK(read_file(dir.path / "allocations.csv") == "orderid,sku,qty,batchref\no1,LAMP,3,b1\no0,LAMP,1,b2\n");
    }
    struct stat st {};
    REQUIRE(::stat(dir.file("allocations.csv").c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == 0600);
    CHECK(read_file(dir.path / "batches.csv") == batches);  // no batch changed: not rewritten
    CHECK_FALSE(has_temp_files(dir.path));
}

TEST_CASE("csv: a write that fails leaves the old file, no temporary file, and commits nothing", "[csv]") {
    testing::TempDir dir("allocation-csv");
    write_file(dir.path / "batches.csv", batches);
    const std::string before = "orderid,sku,qty,batchref\no0,LAMP,1,b2\n";
    write_file(dir.path / "allocations.csv", before);
    csv::Directory directory(csv::Options{.directory = dir.path});
    // A file-size limit makes the write of the temporary file fail (EFBIG), even for root, whom a read-only
    // directory would not stop.
    rlimit old_limit{};
    REQUIRE(::getrlimit(RLIMIT_FSIZE, &old_limit) == 0);
    auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
    rlimit small = old_limit;
    small.rlim_cur = 40;
    REQUIRE(::setrlimit(RLIMIT_FSIZE, &small) == 0);
    const std::string error = error_of([&] { allocate(directory, "o1", 3); });
    ::setrlimit(RLIMIT_FSIZE, &old_limit);
    std::signal(SIGXFSZ, old_handler);
    CHECK_THAT(error, Catch::Contains("cannot write " + dir.file(".allocations.csv.tmp-")));
    CHECK(read_file(dir.path / "allocations.csv") == before);
    CHECK_FALSE(has_temp_files(dir.path));
    // Nothing was committed: the next unit of work sees the product as it was, and the next commit writes it.
    auto uow = csv::UnitOfWorkFactory(directory)();
    CHECK(uow.products().get("LAMP")->batch("b1")->available_quantity() == 10);
    CHECK(directory.allocations().allocations("o1").empty());
}

TEST_CASE("csv: a second process on the directory is refused at once, and let in when the first is done", "[csv]") {
    testing::TempDir dir("allocation-csv");
    write_file(dir.path / "batches.csv", batches);
    {
        csv::Directory first(csv::Options{.directory = dir.path});
        // flock belongs to the open file: a second open is refused even in this process, as another process is.
        CHECK(error_of([&] { csv::Directory second(csv::Options{.directory = dir.path}); }) ==
              dir.path.string() + " is in use by another process (it holds a lock on the directory); try again when "
                                  "that run has finished");
        CHECK_THROWS_AS(csv::DirectoryLock(dir.path), csv::DirectoryBusy);
    }
    csv::Directory after(csv::Options{.directory = dir.path});
    CHECK(csv::UnitOfWorkFactory(after)().products().get("LAMP") != nullptr);
}

TEST_CASE("csv: reopened, the directory gives back batches, lines and waiting lines as commands left them", "[csv]") {
    testing::TempDir dir("allocation-csv");
    write_file(dir.path / "batches.csv", batches);
    {
        csv::Directory directory(csv::Options{.directory = dir.path});
        testing::RecordingDelivery delivery(directory.outbox());
        auto bus = bootstrap(csv::UnitOfWorkFactory(directory), delivery.relay);
        bus.handle(commands::CreateBatch{"d1", "DESK", 4, std::nullopt});
        CHECK(bus.handle(commands::Allocate{"o1", "LAMP", 8}) == "b1");
        CHECK(bus.handle(commands::Allocate{"o2", "LAMP", 9}) == "b2");
        CHECK(bus.handle(commands::Allocate{"o3", "DESK", 4}) == "d1");
        bus.handle(commands::ChangeBatchQuantity{"b2", 5});  // o2 no longer fits anywhere: it waits
        bus.handle(commands::ChangeBatchQuantity{"d1", 6});
    }
    CHECK(read_file(dir.path / "batches.csv") ==
          "ref,sku,qty,eta\nd1,DESK,6,\nb1,LAMP,10,\nb2,LAMP,5,2027-01-03\n");
    CHECK(read_file(dir.path / "allocations.csv") == "orderid,sku,qty,batchref\no3,DESK,4,d1\no1,LAMP,8,b1\no2,LAMP,9,\n");
    csv::Directory directory(csv::Options{.directory = dir.path});
    auto uow = csv::UnitOfWorkFactory(directory)();
    Product* lamp = uow.products().get("LAMP");
    REQUIRE(lamp != nullptr);
    CHECK(lamp->batch("b2")->purchased_quantity() == 5);
    CHECK(lamp->is_waiting(OrderLine{"o2", "LAMP", 9}));
    CHECK(lamp->batch("b1")->available_quantity() == 2);
    CHECK(directory.allocations().allocations("o1") == std::vector<ports::AllocationRow>{{"LAMP", "b1"}});
    CHECK(directory.allocations().allocations("o2").empty());
}

TEST_CASE("csv: what a directory of files cannot keep is gone when it is reopened", "[csv]") {
    testing::TempDir dir("allocation-csv");
    write_file(dir.path / "batches.csv", batches);
    {
        csv::Directory directory(csv::Options{.directory = dir.path});
        {
            auto uow = csv::UnitOfWorkFactory(directory)();
            uow.products().get_for_order("LAMP", "o1")->allocate(OrderLine{"o1", "LAMP", 2});
            uow.allocations().add("elsewhere", "DESK", "d9");  // a read-model row with no line behind it
            uow.messages().record("message-1");
            uow.commit();
        }
        CHECK(directory.allocations().allocations("elsewhere") == std::vector<ports::AllocationRow>{{"DESK", "d9"}});
        CHECK(directory.outbox().undelivered(10).size() == 1);  // the Allocated event, in memory
        CHECK(csv::UnitOfWorkFactory(directory)().products().get("LAMP")->version_number() == 2);
    }
    csv::Directory directory(csv::Options{.directory = dir.path});
    CHECK(directory.allocations().allocations("o1") == std::vector<ports::AllocationRow>{{"LAMP", "b1"}});
    CHECK(directory.allocations().allocations("elsewhere").empty());
    CHECK(directory.outbox().undelivered(10).empty());
    auto uow = csv::UnitOfWorkFactory(directory)();
    CHECK_FALSE(uow.messages().seen("message-1"));
    CHECK(uow.products().get("LAMP")->version_number() == 1);
}

TEST_CASE("csv: without save_on_commit, commits reach the files only at save()", "[csv]") {
    testing::TempDir dir("allocation-csv");
    write_file(dir.path / "batches.csv", batches);
    csv::Directory directory(csv::Options{.directory = dir.path, .save_on_commit = false});
    allocate(directory, "o1", 3);
    CHECK_FALSE(fs::exists(dir.path / "allocations.csv"));
    CHECK(csv::UnitOfWorkFactory(directory)().products().get("LAMP")->batch("b1")->available_quantity() == 7);
    directory.save();
    CHECK(read_file(dir.path / "allocations.csv") == "orderid,sku,qty,batchref\no1,LAMP,3,b1\n");
}

TEST_CASE("csv: write_atomically gives a new file 0644 and replaces an old one whole", "[csv]") {
    testing::TempDir dir("allocation-csv");
    const fs::path path = dir.path / "out.csv";
    csv::write_atomically(path, "one\n");
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == 0644);
    csv::write_atomically(path, "two\n");
    CHECK(read_file(path) == "two\n");
    CHECK_THAT(error_of([&] { csv::write_atomically(dir.path / "missing" / "out.csv", "x"); }),
               Catch::Contains("cannot create a temporary file beside " + (dir.path / "missing" / "out.csv").string()));
}
