// allocation-server: the allocation service over HTTP, on an embedded SQLite database (or in memory), with
// optional Redis events. The composition root of the book's Flask app, as one C++ program.
#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <exception>
#include <optional>
#include <string>
#include <thread>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <httplib.h>

#include "allocation/adapters/memory/memory.hpp"
#include "allocation/allocation.hpp"
#include "http_api.hpp"
#include "logging.hpp"

#if ALLOCATION_SERVER_WITH_SQLITE
#include "allocation/adapters/sqlite/sqlite.hpp"
#endif
#if ALLOCATION_SERVER_WITH_REDIS
#include "allocation/adapters/redis/redis.hpp"
#endif

namespace {

using namespace allocation;

struct Options {
    std::string db = "./allocation.db";
    bool memory = false;
    std::string host = "127.0.0.1";
    int port = 5005;
    int threads = static_cast<int>(std::max(4U, std::thread::hardware_concurrency()));
    std::string redis;
};

/// Publishes to Redis when the service was started with --redis, and nowhere otherwise.
class ServicePublisher {
public:
#if ALLOCATION_SERVER_WITH_REDIS
    void connect(redis::Endpoint endpoint) { redis_.emplace(std::move(endpoint)); }
    void publish(std::string_view channel, const events::Event& event) {
        if (redis_) redis_->publish(channel, event);
    }

private:
    std::optional<redis::Publisher> redis_;
#else
    void publish(std::string_view, const events::Event&) noexcept {}
#endif
};

static_assert(ports::EventPublisher<ServicePublisher>);

/// Turns SIGINT and SIGTERM into a clean stop: they are blocked in every thread and awaited by one.
class SignalWatcher {
public:
    /// Call before starting any thread, so that every thread inherits the blocked set.
    static void block_signals() {
        sigset_t set = signals();
        pthread_sigmask(SIG_BLOCK, &set, nullptr);
        ::signal(SIGPIPE, SIG_IGN);  // a client that hangs up must not kill the server
    }

    explicit SignalWatcher(std::function<void(int)> on_signal)
        : thread_([on_signal = std::move(on_signal)] {
              sigset_t set = signals();
              int signal = 0;
              while (sigwait(&set, &signal) == 0) {
                  if (signal == SIGUSR1) return;  // the service ended on its own
                  on_signal(signal);
                  return;
              }
          }) {}
    SignalWatcher(const SignalWatcher&) = delete;
    SignalWatcher& operator=(const SignalWatcher&) = delete;
    ~SignalWatcher() {
        pthread_kill(thread_.native_handle(), SIGUSR1);
        thread_.join();
    }

private:
    static sigset_t signals() {
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGUSR1);
        return set;
    }

    std::thread thread_;
};

void print_banner(const Options& options, std::string_view storage) {
    const std::string url = fmt::format("http://{}:{}", options.host, options.port);
    fmt::print(
        "allocation-server listening on {} ({}, {} threads). Try:\n"
        "  curl -X POST {}/add_batch -H 'Content-Type: application/json' "
        "-d '{{\"ref\": \"batch-001\", \"sku\": \"SMALL-TABLE\", \"qty\": 20, \"eta\": null}}'\n"
        "  curl -X POST {}/allocate -H 'Content-Type: application/json' "
        "-d '{{\"orderid\": \"order-1\", \"sku\": \"SMALL-TABLE\", \"qty\": 2}}'\n"
        "  curl {}/allocations/order-1\n"
        "  curl {}/products/SMALL-TABLE\n"
        "Stop it with Ctrl-C.\n",
        url, storage, options.threads, url, url, url, url);
    std::fflush(stdout);
}

template <typename Factory, typename View>
int serve(const Options& options, Factory uow_factory, View& view, std::string_view storage) {
    service::LogNotifier notifier;
    ServicePublisher publisher;
#if ALLOCATION_SERVER_WITH_REDIS
    std::optional<redis::Endpoint> redis_endpoint;
    if (!options.redis.empty()) {
        redis_endpoint = redis::parse_endpoint(options.redis);
        publisher.connect(*redis_endpoint);
    }
#endif
    BusOptions bus_options;
    bus_options.max_attempts = 10;
    bus_options.on_error = [](const events::Event& event, std::string_view handler, const std::exception& error) {
        service::log_line(fmt::format("handler {} failed on {}: {}", handler, event, error.what()));
    };
    auto bus = bootstrap(uow_factory, notifier, publisher, std::move(bus_options));

    httplib::Server server;
    const auto threads = static_cast<std::size_t>(options.threads);
    server.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };

#if ALLOCATION_SERVER_WITH_REDIS
    std::optional<redis::Consumer> consumer;
    if (redis_endpoint) {
        consumer.emplace(
            *redis_endpoint, [&bus](const commands::ChangeBatchQuantity& cmd) { bus.handle(cmd); },
            [](std::string_view line) { service::log_line(line); });
    }
    service::HealthProbe probe = [&consumer](nlohmann::json& health) {
        if (consumer) health["redis"] = consumer->subscribed() ? "subscribed" : "connecting";
    };
#else
    service::HealthProbe probe;
#endif
    service::register_routes(server, bus, view, uow_factory, std::move(probe));

    if (!server.bind_to_port(options.host.c_str(), options.port)) {
        service::log_line(fmt::format("cannot listen on {}:{} (in use, or not an address of this machine)",
                                      options.host, options.port));
        return 1;
    }
    {
        SignalWatcher watcher([&server](int signal) {
            service::log_line(fmt::format("{} received, shutting down", signal == SIGINT ? "SIGINT" : "SIGTERM"));
            // A signal right after start may come before the accept loop runs, when stop() would be lost.
            for (int i = 0; i < 500 && !server.is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
            server.stop();
        });
        print_banner(options, storage);
        server.listen_after_bind();
    }
#if ALLOCATION_SERVER_WITH_REDIS
    if (consumer) consumer->stop();  // before the bus it feeds goes away
#endif
    service::log_line("stopped");
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    Options options;
    CLI::App app{"The allocation service: allocates order lines to batches of stock, over HTTP."};
    app.add_option("--db", options.db, "SQLite database file (created if missing)")->capture_default_str();
    app.add_flag("--memory", options.memory, "Keep everything in memory instead (lost on exit)");
    app.add_option("--host", options.host, "Address to listen on")->capture_default_str();
    app.add_option("--port", options.port, "Port to listen on")->capture_default_str()->check(CLI::Range(1, 65535));
    app.add_option("--threads", options.threads, "Worker threads serving requests")
        ->capture_default_str()
        ->check(CLI::Range(1, 1024));
#if ALLOCATION_SERVER_WITH_REDIS
    app.add_option("--redis", options.redis,
                   "Redis HOST:PORT: publish line_allocated events, consume change_batch_quantity commands");
#endif
    CLI11_PARSE(app, argc, argv);

    SignalWatcher::block_signals();
    try {
        if (options.memory) {
            memory::Store store;
            return serve(options, memory::UnitOfWorkFactory(store), store.allocations(), "in memory");
        }
#if ALLOCATION_SERVER_WITH_SQLITE
        sqlite::Database database(sqlite::Options{.path = options.db});
        sqlite::AllocationsView view(database);
        return serve(options, sqlite::UnitOfWorkFactory(database), view, "database " + options.db);
#else
        service::log_line("this build has no SQLite support; run with --memory");
        return 2;
#endif
    } catch (const std::exception& error) {
        service::log_line(fmt::format("allocation-server: {}", error.what()));
        return 1;
    }
}
