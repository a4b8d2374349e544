// One process of the multi-process test: sends allocations through its own bus to a shared database file and
// writes down every answer it got, one line each: "<orderid> <sku> <qty> <batchref or ->".
#include <cstdio>
#include <exception>
#include <fstream>
#include <string>

#include "allocation/adapters/memory/recording.hpp"
#include "recording_delivery.hpp"
#include "allocation/adapters/sqlite/sqlite.hpp"
#include "allocation/allocation.hpp"

int main(int argc, char** argv) {
    if (argc != 5) {
        std::fprintf(stderr, "usage: sqlite_worker <database> <worker> <orders> <answers-file>\n");
        return 2;
    }
    try {
        const std::string worker = argv[2];
        const int orders = std::stoi(argv[3]);
        allocation::sqlite::Database db(allocation::sqlite::Options{argv[1]});
        allocation::sqlite::AllocationsView view(db);
        allocation::sqlite::Outbox outbox(db);
        allocation::testing::RecordingDelivery delivery(outbox);
        allocation::BusOptions options;
        options.max_attempts = 1000;  // every process hammers the same two products
        auto bus = allocation::bootstrap(allocation::sqlite::UnitOfWorkFactory(db), delivery.relay, options);
        std::ofstream answers(argv[4]);
        for (int i = 0; i < orders; ++i) {
            const std::string orderid = "w" + worker + "-o" + std::to_string(i);
            const std::string sku = i % 2 == 0 ? "LAMP" : "DESK";
            const int qty = 1 + i % 3;
            auto batchref = bus.handle(allocation::commands::Allocate{orderid, sku, qty});
            answers << orderid << ' ' << sku << ' ' << qty << ' ' << (batchref ? *batchref : "-") << '\n';
            answers.flush();  // acknowledged means written down
        }
        return answers ? 0 : 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "sqlite_worker: %s\n", e.what());
        return 1;
    }
}
