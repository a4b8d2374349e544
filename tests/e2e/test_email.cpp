// allocation::email against a real SMTP server (aiosmtpd on a loopback port).
#include <chrono>
#include <string>

#include "allocation/adapters/email/smtp.hpp"

#include "smtp_server.hpp"
#include "support/catch.hpp"

using namespace e2e;
using allocation::email::DeliveryError;
using allocation::email::SmtpNotifier;
using allocation::email::SmtpOptions;

TEST_CASE("email: the book's out-of-stock message reaches the SMTP server", "[e2e][email]") {
    SmtpServer smtp;
    SmtpNotifier notifier(SmtpOptions{.url = smtp.url()});
    notifier.send("stock@made.com", "Out of stock for SMALL-TABLE");
    REQUIRE(wait_until([&] { return smtp.received().find("Out of stock for SMALL-TABLE") != std::string::npos; }));
    const std::string received = smtp.received();
    INFO(received);
    CHECK_THAT(received, Catch::Contains("From: allocations@example.com"));
    CHECK_THAT(received, Catch::Contains("To: stock@made.com"));
    CHECK_THAT(received, Catch::Contains("Subject: allocation service notification"));
    CHECK_THAT(received, Catch::Contains("MAIL FROM:allocations@example.com"));
    CHECK_THAT(received, Catch::Contains("RCPT TO:stock@made.com"));
}

TEST_CASE("email: a server that is down is a DeliveryError naming it, and a later send works", "[e2e][email]") {
    const int port = free_port();
    SmtpNotifier notifier(SmtpOptions{.url = "smtp://127.0.0.1:" + std::to_string(port),
                                      .timeout = std::chrono::milliseconds(3000)});
    CHECK_THROWS_WITH(notifier.send("stock@made.com", "Out of stock for LAMP"),
                      Catch::Contains("email to stock@made.com via smtp://127.0.0.1:" + std::to_string(port)));
    SmtpServer smtp(port);
    notifier.send("stock@made.com", "Out of stock for LAMP");
    CHECK(wait_until([&] { return smtp.received().find("Out of stock for LAMP") != std::string::npos; }));
}

TEST_CASE("email: a destination with a line break is refused before anything is sent", "[e2e][email]") {
    SmtpServer smtp;
    SmtpNotifier notifier(SmtpOptions{.url = smtp.url()});
    CHECK_THROWS_AS(notifier.send("stock@made.com\r\nBcc: everyone@example.com", "hello"), DeliveryError);
    CHECK_THROWS_AS(SmtpNotifier(SmtpOptions{.url = smtp.url(), .subject = "a\nb"}), DeliveryError);
    notifier.send("stock@made.com", "the only message");
    REQUIRE(wait_until([&] { return smtp.received().find("the only message") != std::string::npos; }));
    CHECK(smtp.received().find("everyone@example.com") == std::string::npos);
}

TEST_CASE("email: a body keeps its lines, a leading dot included", "[e2e][email]") {
    SmtpServer smtp;
    SmtpNotifier notifier(SmtpOptions{.url = smtp.url()});
    notifier.send("stock@made.com", "first line\n.second line\nthird line");
    REQUIRE(wait_until([&] { return smtp.received().find("third line") != std::string::npos; }));
    const std::string received = smtp.received();
    INFO(received);
    CHECK_THAT(received, Catch::Contains("first line"));
    CHECK_THAT(received, Catch::Contains("\n.second line"));
}
