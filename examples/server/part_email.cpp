// allocation-server's email part: --smtp, the server the out-of-stock email goes to (delivery.hpp sends it).
#include "parts.hpp"

namespace allocation::service {

Part email_part() {
    return {"email", [](CLI::App& app, Options& o) {
                Flags{app}("smtp", o.smtp, "SMTP server HOST:PORT for the out-of-stock email (without it, a log line)");
            }};
}

}  // namespace allocation::service
