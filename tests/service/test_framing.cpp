// Request framing (allocation/adapters/http/framing.hpp): which heads the server refuses before reading a body,
// with which status, and which leave the connection unfit for another request.
#include <string_view>
#include <vector>

#include "allocation/adapters/http/framing.hpp"
#include "catch.hpp"

using namespace allocation::http;

namespace {

Head with_codings(std::vector<std::string_view> lines, unsigned version = 11) {
    return Head{version, std::move(lines), 1, false};
}

}  // namespace

TEST_CASE("a request with one Host and a Content-Length, or none, is read and kept alive", "[http][framing]") {
    const Framing plain = framing_of(Head{11, {}, 1, true});
    CHECK(plain.status == 0);
    CHECK_FALSE(plain.last_request);
    CHECK(framing_of(Head{11, {}, 1, false}).status == 0);
    CHECK(framing_of(Head{10, {}, 0, false}).status == 0);  // HTTP/1.0 had no Host
}

TEST_CASE("a request without exactly one Host is a 400", "[http][framing]") {
    for (const Head& head : {Head{11, {}, 0, false}, Head{11, {}, 2, false}, Head{10, {}, 2, false}}) {
        const Framing framing = framing_of(head);
        CHECK(framing.status == 400);
        CHECK(framing.message == "A request must carry exactly one Host header");
        CHECK(framing.last_request);
    }
}

TEST_CASE("chunked as the one coding is read; in HTTP/1.0 the connection closes after it", "[http][framing]") {
    for (std::string_view line : {"chunked", "Chunked", " chunked ", "chunked,", ", chunked"}) {
        CAPTURE(line);
        const Framing framing = framing_of(with_codings({line}));
        CHECK(framing.status == 0);
        CHECK_FALSE(framing.last_request);
    }
    const Framing old = framing_of(with_codings({"chunked"}, 10));
    CHECK(old.status == 0);
    CHECK(old.last_request);
}

TEST_CASE("a coding list whose final coding is not chunked once is a 400", "[http][framing]") {
    const std::vector<std::vector<std::string_view>> lists = {
        {"identity"}, {"x"}, {"chunked, identity"}, {"chunked", "gzip"}, {""}, {"chunked, chunked"},
        {"chunked", "chunked"}, {"gzip, chunked, chunked"}};
    for (const auto& lines : lists) {
        const Framing framing = framing_of(with_codings(lines));
        CHECK(framing.status == 400);
        CHECK(framing.last_request);
    }
    CHECK(framing_of(with_codings({"x"})).message ==
          "Transfer-Encoding must end with chunked: the length of the body cannot be known");
    CHECK(framing_of(with_codings({"chunked, chunked"})).message == "Transfer-Encoding names chunked more than once");
}

TEST_CASE("a coding other than chunked before it is a 501", "[http][framing]") {
    for (const auto& lines : std::vector<std::vector<std::string_view>>{{"gzip, chunked"}, {"gzip", "chunked"},
                                                                         {"identity;q=1 , CHUNKED"}}) {
        const Framing framing = framing_of(with_codings(lines));
        CHECK(framing.status == 501);
        CHECK(framing.last_request);
    }
    CHECK(framing_of(with_codings({"GZip, chunked"})).message == "Transfer-Encoding 'gzip' is not implemented");
}

TEST_CASE("Transfer-Encoding beside Content-Length is a 400, whatever the coding", "[http][framing]") {
    for (std::string_view line : {"chunked", "x"}) {
        const Framing framing = framing_of(Head{11, {line}, 1, true});
        CHECK(framing.status == 400);
        CHECK(framing.message == "A request must not carry both Transfer-Encoding and Content-Length");
        CHECK(framing.last_request);
    }
}
