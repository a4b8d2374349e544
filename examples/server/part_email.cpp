// allocation-server's email part: --smtp, the server the out-of-stock email goes to, and the notifier that sends it.
#include <charconv>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>

#include <fmt/format.h>

#include "allocation/adapters/email/smtp.hpp"
#include "parts.hpp"

namespace allocation::service {

namespace {

/// "HOST:PORT" as an smtp:// URL; throws allocation::Error naming what is wrong.
std::string smtp_url(std::string_view address) {
    const auto colon = address.rfind(':');
    int port = 0;
    const auto digits = colon == std::string_view::npos ? std::string_view{} : address.substr(colon + 1);
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
    if (colon == 0 || digits.empty() || ec != std::errc{} || end != digits.data() + digits.size() || port < 1 ||
        port > 65535) {
        throw Error(fmt::format("--smtp must be HOST:PORT with a port from 1 to 65535, got '{}'", address));
    }
    return fmt::format("smtp://{}", address);
}

/// With --smtp, the outbound handlers' notifier: the book's email.
Send smtp_notifier(const Options& options) {
    if (options.smtp.empty()) return {};
    auto smtp = std::make_shared<email::SmtpNotifier>(email::SmtpOptions{.url = smtp_url(options.smtp)});
    return [smtp](std::string_view destination, std::string_view message) { smtp->send(destination, message); };
}

}  // namespace

Part email_part() {
    return {"email",
            [](const Flags& flag, Options& o) {
                flag("smtp", o.smtp, "SMTP server HOST:PORT for the out-of-stock email (without it, a log line)");
            },
            {}, {}, {}, smtp_notifier};
}

}  // namespace allocation::service
