// allocation::email against a real SMTP server (aiosmtpd on a loopback port).
#include <chrono>
#include <string>

#include "allocation/adapters/email/smtp.hpp"

#include <nlohmann/json.hpp>

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

TEST_CASE("the server's out-of-stock email waits in the outbox while SMTP is down, and arrives once it is back",
          "[e2e][email][outbox]") {
    const int port = free_port();  // nothing listens there yet
    Server server({"--memory", "--smtp", "127.0.0.1:" + std::to_string(port)});
    auto client = server.client();
    auto batch = client.Post("/add_batch", R"({"ref": "b1", "sku": "LAMP", "qty": 1, "eta": null})", "application/json");
    REQUIRE(batch);
    REQUIRE(batch->status == 201);
    auto allocation = client.Post("/allocate", R"({"orderid": "o1", "sku": "LAMP", "qty": 5})", "application/json");
    REQUIRE(allocation);
    CHECK(allocation->status == 202);  // out of stock: accepted with a null batchref, as in the book
    auto undelivered = [&] {
        auto ready = client.Get("/ready");
        return ready ? nlohmann::json::parse(ready->body)["outbox"].value("undelivered", -1) : -1;
    };
    REQUIRE(wait_until([&] { return server.log().find("relay: delivering LAMP:") != std::string::npos; }));
    CHECK(undelivered() == 1);

    SmtpServer smtp(port);
    REQUIRE(wait_until([&] { return smtp.received().find("Out of stock for LAMP") != std::string::npos; }, 30s));
    CHECK(wait_until([&] { return undelivered() == 0; }));
    const std::string received = smtp.received();
    CHECK(received.find("Out of stock for LAMP") == received.rfind("Out of stock for LAMP"));  // once
    CHECK_THAT(received, Catch::Contains("RCPT TO:stock@made.com"));
}
