// Which route answers a request: a table of routes, each a method and a path (or a path prefix), matched on the
// percent-decoded path. The server's own routes (/health, /ready, /metrics) and an application's are all Routes.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace allocation::http {

/// One request as a route sees it; the server has already checked every limit.
struct Request {
    std::string method;  // "GET", "POST", ...
    std::string target;  // as sent: "/allocations/a%2Fb?x=1" or "http://host/allocations/a%2Fb"
    std::string body;
    std::string request_id;
    std::string path = {};  // the target's path, percent-decoded ("/allocations/a/b"): the router fills it
};

/// A route's answer. `route` names the route for the metrics and must have static storage.
struct Response {
    int status = 200;
    std::string body;
    std::string_view route = "other";
    std::string_view content_type = "application/json";
    int retry_after_seconds = 0;  // sent as Retry-After when > 0
};

/// Where a route's handler runs. On the I/O thread only when it never waits for a lock held across I/O (a read
/// of a view: SQLite's WAL readers never wait for the writer), which is cheaper than two hand-offs to a worker and
/// back; everything that may block (a command, a query of the write model) on the bounded worker pool.
enum class Runs { on_io_thread, on_worker };

struct Route {
    std::string method;      // "GET"
    std::string path;        // exact ("/allocate"), or a prefix when it ends with '/' ("/allocations/"): the rest,
                             // which must not be empty, is the route's argument
    std::string_view name;   // for the metrics: static storage, never text from the request
    Runs runs = Runs::on_worker;
    /// Must not throw (the server answers 500 and logs it if it does anyway); may run on several threads at once.
    std::function<Response(const Request&)> handle;
};

/// Decodes %XX escapes in a URL path; nothing when an escape is malformed. '+' stays '+' (it means a space
/// only in query strings).
std::optional<std::string> percent_decode(std::string_view text);

/// The percent-decoded path of a request target: of the origin form ("/allocations/a%2Fb?x=1") or of the
/// absolute form ("http://host/allocations/a%2Fb", whose authority is dropped and whose empty path is "/").
/// Nothing when an escape is malformed.
std::optional<std::string> target_path(std::string_view target);

/// The JSON body {"message": ...} of every answer that is only a message.
std::string message_body(std::string_view message);

/// An immutable table of routes: the first whose method and path match a request answers it; a HEAD request
/// matches a GET route.
class Router {
public:
    explicit Router(std::vector<Route> routes) : routes_(std::move(routes)) {}

    /// The route for `request`, whose `path` it fills; nullptr when none (unmatched() says why).
    const Route* route(Request& request) const;

    /// The answer to a request no route takes: 400 (a malformed path), 405 (the path exists for another method),
    /// or 404.
    Response unmatched(const Request& request) const;

private:
    static bool path_matches(const Route& route, std::string_view path);

    std::vector<Route> routes_;
};

}  // namespace allocation::http
