// How a request's body is framed (RFC 9112 section 6), decided from the fields of its head before any of the
// body is read: which requests are refused, and which leave the connection unfit for another request.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace allocation::http {

/// The fields of a request head that framing depends on, every field line as sent.
struct Head {
    unsigned version = 11;                                 // 10 for HTTP/1.0, 11 for HTTP/1.1
    std::vector<std::string_view> transfer_encodings = {};  // the value of each Transfer-Encoding line
    std::size_t hosts = 0;                                  // how many Host lines
    bool content_length = false;                            // whether a Content-Length line is there
};

/// What the server does with a request, given its head. A refusal (status > 0) is answered without reading the
/// body, and the connection closes after it: the server can no longer tell where the next request begins.
struct Framing {
    int status = 0;              // 0: read the body and answer; else 400 or 501
    std::string message = {};    // why, for the answer's {"message"}
    bool last_request = false;   // answered, then the connection closes (Transfer-Encoding in HTTP/1.0)
};

/// 400 without exactly one Host (an HTTP/1.0 request may have none), with Transfer-Encoding beside
/// Content-Length, with a coding list whose final coding is not chunked or that names chunked twice; 501 for any
/// coding other than chunked (the server implements no other); otherwise the request is read and answered.
Framing framing_of(const Head& head);

}  // namespace allocation::http
