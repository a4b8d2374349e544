// The differential fuzzer's inputs as ordinary tests: every seed and every regression input (a file that once made
// the adapters and the reference model disagree) must agree on every adapter, with the same
// generator settings as the fuzzer in CI.
#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "adapters.hpp"
#include "catch.hpp"
#include "differential.hpp"

namespace fs = std::filesystem;
using namespace allocation;
using allocation::contract::TempDirectory;

namespace {

std::vector<fs::path> inputs_in(const fs::path& dir) {
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(dir)) {
        if (entry.is_regular_file() && entry.path().filename().string().front() != '.') files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
    return files;
}

std::vector<std::uint8_t> bytes_of(const fs::path& file) {
    std::ifstream in(file, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// Replays every input in `dir`; returns how many there were.
std::size_t replay_directory(const fs::path& dir, unsigned known) {
    TempDirectory tmp;
    const std::string db = (tmp.path / "allocation.db").string();
    const auto files = inputs_in(dir);
    for (const fs::path& file : files) {
        const auto data = bytes_of(file);
        auto disagreement = differential::run(data, known, db);
        if (disagreement) FAIL_CHECK(file.filename().string() << ": " << *disagreement);
    }
    return files.size();
}

}  // namespace

TEST_CASE("differential: the seed corpus agrees on every adapter and the reference model", "[differential]") {
    // A seed corpus that went missing must not pass as agreement.
    CHECK(replay_directory(ALLOCATION_DIFFERENTIAL_CORPUS "/differential", differential::default_known_defects) > 0);
}

TEST_CASE("differential: every regression input agrees on every adapter and the reference model", "[differential]") {
    // Empty until an input makes them disagree; then it stays here for good.
    const std::size_t replayed =
        replay_directory(ALLOCATION_DIFFERENTIAL_CORPUS "/differential-regressions", differential::default_known_defects);
    SUCCEED(replayed << " regression inputs");
}
