// allocation::email: a Notifier that sends each message as an email over SMTP (libcurl), as the book does.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstring>
#include <ctime>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

#include <curl/curl.h>
#include <fmt/format.h>

#include "allocation/ports/notifications.hpp"

namespace allocation::email {

/// An email that could not be handed to the SMTP server: the message says which server, and why.
class DeliveryError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct SmtpOptions {
    /// The server, as libcurl takes it: "smtp://HOST:PORT" (or "smtps://" for TLS from the first byte).
    std::string url;
    std::string from = "allocations@example.com";
    std::string subject = "allocation service notification";
    /// For the whole exchange, connecting included.
    std::chrono::milliseconds timeout{10000};
};

/// Sends `send(destination, message)` as an email from `from` to `destination`, with `subject`, and `message`
/// as its body: the book's "Out of stock for <sku>" to stock@made.com. Each call opens its own connection, so
/// calls from several threads never share one. Returns once the server accepted the message; throws
/// DeliveryError when it did not (refused, unreachable, too slow). A destination or subject with a line break
/// is refused before anything is sent, since it would forge headers.
class SmtpNotifier {
public:
    explicit SmtpNotifier(SmtpOptions options) : options_(std::move(options)) {
        global_init();
        refuse_line_breaks("subject", options_.subject);
        refuse_line_breaks("sender", options_.from);
    }

    const SmtpOptions& options() const noexcept { return options_; }

    void send(std::string_view destination, std::string_view message) {
        refuse_line_breaks("destination", destination);
        Payload payload{compose(destination, message), 0};
        std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), &curl_easy_cleanup);
        if (!curl) throw DeliveryError("email: libcurl could not start a transfer");
        const std::string recipient(destination);
        std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> recipients(
            curl_slist_append(nullptr, recipient.c_str()), &curl_slist_free_all);
        char reason[CURL_ERROR_SIZE] = {};
        CURL* c = curl.get();
        curl_easy_setopt(c, CURLOPT_URL, options_.url.c_str());
        curl_easy_setopt(c, CURLOPT_MAIL_FROM, options_.from.c_str());
        curl_easy_setopt(c, CURLOPT_MAIL_RCPT, recipients.get());
        curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(c, CURLOPT_READFUNCTION, &Payload::read);
        curl_easy_setopt(c, CURLOPT_READDATA, &payload);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.timeout.count()));
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, reason);
        const CURLcode result = curl_easy_perform(c);
        if (result != CURLE_OK) {
            throw DeliveryError(fmt::format("email to {} via {}: {}", destination, options_.url,
                                            reason[0] != '\0' ? reason : curl_easy_strerror(result)));
        }
    }

private:
    struct Payload {
        std::string text;
        std::size_t sent;

        static std::size_t read(char* buffer, std::size_t size, std::size_t count, void* self) {
            auto& payload = *static_cast<Payload*>(self);
            const std::size_t n = std::min(size * count, payload.text.size() - payload.sent);
            std::memcpy(buffer, payload.text.data() + payload.sent, n);
            payload.sent += n;
            return n;
        }
    };

    std::string compose(std::string_view destination, std::string_view message) const {
        std::string body;
        for (char c : message) {  // SMTP wants CRLF line ends; libcurl escapes a leading dot itself
            if (c == '\n' && (body.empty() || body.back() != '\r')) body.push_back('\r');
            body.push_back(c);
        }
        return fmt::format("Date: {}\r\nTo: {}\r\nFrom: {}\r\nSubject: {}\r\n\r\n{}\r\n", date_now(), destination,
                           options_.from, options_.subject, body);
    }

    static std::string date_now() {
        const std::time_t now = std::time(nullptr);
        std::tm utc{};
        gmtime_r(&now, &utc);
        char text[64];
        std::strftime(text, sizeof text, "%a, %d %b %Y %H:%M:%S +0000", &utc);
        return text;
    }

    static void refuse_line_breaks(std::string_view what, std::string_view text) {
        if (text.find_first_of("\r\n") != std::string_view::npos) {
            throw DeliveryError(fmt::format("email: the {} contains a line break", what));
        }
    }

    // libcurl's global state is set up once, before the first transfer, by whichever thread gets here first.
    static void global_init() {
        static const CURLcode initialised = curl_global_init(CURL_GLOBAL_DEFAULT);
        if (initialised != CURLE_OK) throw DeliveryError("email: libcurl could not initialise");
    }

    SmtpOptions options_;
};

static_assert(ports::diagnose_notifier<SmtpNotifier>());

}  // namespace allocation::email
