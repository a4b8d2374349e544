// allocation::log_text: any text, made one line of a log that cannot be forged or flooded.
#include <string>
#include <string_view>

#include "allocation/serialisation/log_text.hpp"
#include "catch.hpp"

using allocation::log_text;
using namespace std::string_literals;

TEST_CASE("log_text keeps printable text, backslashes and valid UTF-8 as they are") {
    CHECK(log_text("storage error: disk full") == "storage error: disk full");
    CHECK(log_text(R"(C:\path and \x0a as typed)") == R"(C:\path and \x0a as typed)");
    CHECK(log_text("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80") == "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
}

TEST_CASE("log_text escapes every control character, so that no text starts a line or moves the cursor") {
    CHECK(log_text("a\nb\r\tc") == R"(a\x0ab\x0d\x09c)");
    CHECK(log_text("\x1b[31mred") == R"(\x1b[31mred)");
    CHECK(log_text("before\0after"s) == R"(before\x00after)");
    CHECK(log_text("del\x7f") == R"(del\x7f)");
    CHECK(log_text("csi\xc2\x9b" "2J") == R"(csi\xc2\x9b2J)");  // U+009B, the one-character CSI
}

TEST_CASE("log_text replaces each byte that is not part of valid UTF-8 by U+FFFD") {
    const std::string r = "\xef\xbf\xbd";
    CHECK(log_text("a\xff" "b") == "a" + r + "b");
    CHECK(log_text("\xc0\x80") == r + r);          // an overlong NUL
    CHECK(log_text("\xed\xa0\x80") == r + r + r);  // a surrogate
    CHECK(log_text("\xf4\x90\x80\x80") == r + r + r + r);  // past U+10FFFF
    CHECK(log_text("cut \xe2\x82") == "cut " + r + r);    // a sequence cut short
    CHECK(log_text("\x80lone") == r + "lone");
}

TEST_CASE("log_text cuts long text at its limit, never inside a character, and says how much it left out") {
    const std::string big(5'000'000, 'x');
    const std::string line = log_text(big);
    CHECK(line == std::string(allocation::log_text_limit, 'x') + " [cut: 4997952 more bytes]");

    CHECK(log_text("ab\xc3\xa9" "cd", 3) == "ab [cut: 4 more bytes]");
    CHECK(log_text("a\nb", 4) == R"(a [cut: 2 more bytes])");
    CHECK(log_text("abc", 3) == "abc");
}
