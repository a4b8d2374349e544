// The HTTP adapter below its sockets: the book's routes over an in-memory bus, found through a Router as the server
// finds them, and the worker pool that runs them.
#include <atomic>
#include <chrono>
#include <future>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "allocation/adapters/http/router.hpp"
#include "allocation/adapters/http/routes.hpp"
#include "allocation/adapters/http/worker_pool.hpp"
#include "allocation/adapters/memory/memory.hpp"
#include "allocation/allocation.hpp"
#include "catch.hpp"
#include "recording_delivery.hpp"

using namespace allocation;
using nlohmann::json;

namespace {

struct Api {
    memory::Store store;
    memory::UnitOfWorkFactory uow{store};
    testing::RecordingDelivery<memory::Outbox> delivery{store.outbox()};
    decltype(bootstrap(uow, delivery.relay)) bus = bootstrap(uow, delivery.relay);
    http::Metrics metrics;
    http::Routes<decltype(bus), memory::AllocationsView, memory::UnitOfWorkFactory> routes{bus, store.allocations(),
                                                                                          uow, metrics};
    http::Router router{routes.table()};

    http::Response ask(std::string method, std::string target, std::string body = {}) {
        http::Request request{std::move(method), std::move(target), std::move(body), "test"};
        const http::Route* route = router.route(request);
        return route ? route->handle(request) : router.unmatched(request);
    }
};

}  // namespace

TEST_CASE("the routes allocate through the bus they are given and read its view", "[http][routes]") {
    Api api;
    CHECK(api.ask("POST", "/add_batch", R"({"ref": "b1", "sku": "LAMP", "qty": 10})").status == 201);
    const http::Response allocated = api.ask("POST", "/allocate", R"({"orderid": "o/1", "sku": "LAMP", "qty": 3})");
    CHECK(allocated.status == 202);
    CHECK(json::parse(allocated.body) == json{{"batchref", "b1"}});
    CHECK(allocated.route == "allocate");
    const http::Response view = api.ask("GET", "/allocations/o%2F1?x=1");
    CHECK(view.status == 200);
    CHECK(json::parse(view.body) == json::array({{{"sku", "LAMP"}, {"batchref", "b1"}}}));
    CHECK(api.ask("GET", "/products/LAMP").status == 200);
}

TEST_CASE("a request no route takes is a 404, 405 or 400 with a message", "[http][routes]") {
    Api api;
    const http::Response unknown = api.ask("GET", "/nowhere");
    CHECK(unknown.status == 404);
    CHECK(json::parse(unknown.body) == json{{"message", "No route for GET /nowhere"}});
    const http::Response wrong_method = api.ask("GET", "/allocate");
    CHECK(wrong_method.status == 405);
    CHECK(json::parse(wrong_method.body) == json{{"message", "GET /allocate is not allowed; use POST"}});
    CHECK(api.ask("GET", "/allocations/").status == 404);  // a prefix route needs the rest of the path
    CHECK(api.ask("GET", "/allocations/a%2").status == 400);
}

TEST_CASE("HEAD takes the GET route of a path; a target in absolute form is routed by its path", "[http][routes]") {
    Api api;
    const http::Response head = api.ask("HEAD", "/products/LAMP");
    CHECK(head.status == api.ask("GET", "/products/LAMP").status);
    CHECK(head.route == "products");
    CHECK(api.ask("HEAD", "/allocate").status == 405);
    CHECK(api.ask("HEAD", "/nowhere").status == 404);
    CHECK(api.ask("POST", "http://localhost:8080/add_batch", R"({"ref": "b1", "sku": "LAMP", "qty": 10})").status ==
          201);
    CHECK(json::parse(api.ask("GET", "HTTP://localhost/products/LAMP?x=1").body)["sku"] == "LAMP");
    CHECK(http::target_path("http://localhost") == "/");
    CHECK(http::target_path("http://localhost?x=1") == "/");
    CHECK(http::target_path("https://h/allocations/o%2F1") == "/allocations/o/1");
    CHECK(http::target_path("/a/http://b") == "/a/http://b");
    CHECK_FALSE(http::target_path("http://h/a%2").has_value());
}

TEST_CASE("only the read of the allocations view is answered on the I/O thread", "[http][routes]") {
    Api api;
    for (const http::Route& route : api.routes.table()) {
        CHECK((route.runs == http::Runs::on_io_thread) == (route.name == "allocations"));
    }
}

TEST_CASE("the worker pool refuses beyond its queue, and runs what it accepted before it stops", "[http][pool]") {
    http::WorkerPool pool(1, 2);
    std::promise<void> release;
    std::shared_future<void> released = release.get_future().share();
    std::atomic<int> ran{0};
    std::promise<void> started;
    REQUIRE(pool.try_submit([&] {
        started.set_value();
        released.wait();
        ++ran;
    }));
    started.get_future().wait();  // the one thread is busy: what follows waits in the queue
    CHECK(pool.try_submit([&] { ++ran; }));
    CHECK(pool.try_submit([&] { ++ran; }));
    CHECK_FALSE(pool.try_submit([&] { ++ran; }));
    CHECK(pool.queued() == 2);
    std::thread stopper([&] { pool.stop(); });
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    release.set_value();
    stopper.join();
    CHECK(ran == 3);
    CHECK_FALSE(pool.try_submit([&] { ++ran; }));
}
