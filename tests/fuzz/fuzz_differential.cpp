// libFuzzer target: any sequence of commands gives the same results, events, batches, allocations view and
// versions on the memory adapter, SQLite ":memory:", a SQLite file and the reference model. A disagreement is
// printed with the commands that led to it, then aborts the run; replay the input with the differential_tests
// Catch2 suite (put the file in tests/fuzz/corpus/differential-regressions).
//
// -known_defects=N (or ALLOCATION_KNOWN_DEFECTS=N) chooses which known defects the generator steers clear of;
// see allocation::differential::defects.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>

#include <unistd.h>

#include "differential.hpp"

namespace {

unsigned known = allocation::differential::default_known_defects;
std::string database_path;

void remove_directory() {
    std::error_code ignored;
    std::filesystem::remove_all(std::filesystem::path(database_path).parent_path(), ignored);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
    known = allocation::differential::known_defects_from_environment();
    constexpr std::string_view flag = "-known_defects=";
    for (int i = 1; i < *argc; ++i) {
        std::string_view arg = (*argv)[i];
        if (arg.substr(0, flag.size()) == flag) known = static_cast<unsigned>(std::strtoul(arg.data() + flag.size(), nullptr, 0));
    }
    // One file for the whole run, emptied before each input; on tmpfs when there is one, so that the run measures
    // the adapters and not the disk (TMPDIR chooses otherwise).
    std::error_code ec;
    const bool shm = std::getenv("TMPDIR") == nullptr && std::filesystem::is_directory("/dev/shm", ec) &&
                     ::access("/dev/shm", W_OK) == 0;
    const auto dir = (shm ? std::filesystem::path("/dev/shm") : std::filesystem::temp_directory_path()) /
                     ("allocation-fuzz-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    database_path = (dir / "allocation.db").string();
    std::atexit(remove_directory);
    std::fprintf(stderr, "fuzz_differential: known_defects=0x%x, database %s\n", known, database_path.c_str());
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (auto disagreement = allocation::differential::run({data, size}, known, database_path)) {
        std::fprintf(stderr, "fuzz_differential: %s\n", disagreement->c_str());
        std::abort();
    }
    return 0;
}
