// Writes input for the CSV batch job's benchmark: DIR/batches.csv (3 batches for each of 1000 SKUs) and
// DIR/orders.csv with N order lines (default a million), all of which fit.
//   bench_csv_data DIR [N]   then   time allocation-cli allocate-csv DIR
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include <fmt/format.h>
#include <fmt/os.h>

int main(int argc, char** argv) {
    if (argc < 2) {
        fmt::print(stderr, "usage: bench_csv_data DIR [ORDERS]\n");
        return 2;
    }
    const std::filesystem::path dir = argv[1];
    const long orders = argc > 2 ? std::atol(argv[2]) : 1'000'000;
    constexpr int skus = 1000;
    std::filesystem::create_directories(dir);
    std::filesystem::remove(dir / "allocations.csv");

    auto batches = fmt::output_file((dir / "batches.csv").string());
    batches.print("ref,sku,qty,eta\n");
    for (int s = 0; s < skus; ++s) {
        batches.print("warehouse-{0},SKU-{0},{1},\n", s, 2 * orders / skus);
        batches.print("ship-early-{0},SKU-{0},{1},2026-12-01\n", s, 2 * orders / skus);
        batches.print("ship-late-{0},SKU-{0},{1},2027-01-15\n", s, 2 * orders / skus);
    }
    batches.close();

    auto out = fmt::output_file((dir / "orders.csv").string());
    out.print("orderid,sku,qty\n");
    for (long i = 0; i < orders; ++i) out.print("order-{},SKU-{},{}\n", i, (i * 7919) % skus, 1 + i % 5);
    out.close();
    fmt::print("{} orders over {} SKUs in {}\n", orders, skus, dir.string());
    return 0;
}
