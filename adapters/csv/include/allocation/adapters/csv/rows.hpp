// The rows of the CSV files: batches.csv (ref,sku,qty,eta), allocations.csv (orderid,sku,qty,batchref) and
// orders.csv (orderid,sku,qty), each field checked by the domain's rules and refused with its file:line:column.
#pragma once

#include <charconv>
#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include <fmt/format.h>

#include "allocation/adapters/csv/parser.hpp"
#include "allocation/domain/model.hpp"
#include "allocation/domain/rules.hpp"

namespace allocation::csv {

struct BatchRow {
    std::string ref;
    std::string sku;
    Quantity qty = 0;
    std::optional<Date> eta;
    Location where;  // of the row (column 1)
};

struct OrderRow {
    OrderLine line;
    Location where;  // of the row (column 1)
    std::size_t sku_column = 0;
};

/// A line of allocations.csv: allocated to `batchref`, or waiting for stock when it is empty.
struct AllocationRow {
    OrderLine line;
    std::string batchref;
    Location where;  // of the batchref field
};

namespace detail {

inline std::string id_field(const Table& table, const Record& row, std::size_t column, std::string_view name) {
    const Field& f = table.at(row, column);
    if (auto problem = id_problem(f.text)) throw InputError(table.where(row, column), fmt::format("{} {}", name, *problem));
    return f.text;
}

inline Quantity qty_field(const Table& table, const Record& row, std::size_t column) {
    const std::string& text = table.at(row, column).text;
    long long value = 0;
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error == std::errc{} && end == text.data() + text.size() && value >= 1 && value <= max_quantity) {
        return static_cast<Quantity>(value);
    }
    throw InputError(table.where(row, column),
                     fmt::format("qty must be a whole number between 1 and {}, got '{}'", max_quantity, text));
}

inline std::optional<Date> eta_field(const Table& table, const Record& row, std::size_t column) {
    const std::string& text = table.at(row, column).text;
    if (text.empty()) return std::nullopt;
    if (auto eta = parse_date(text)) return eta;
    throw InputError(table.where(row, column),
                     fmt::format("eta must be a real date written YYYY-MM-DD (or empty), got '{}'", text));
}

inline Table read_table(const std::filesystem::path& path, const std::vector<std::string_view>& columns) {
    const std::string file = path.string();
    return Table(parse(read_text(path), file), file, columns);
}

}  // namespace detail

/// batches.csv: ref,sku,qty,eta (eta empty for warehouse stock). References must be unique.
inline std::vector<BatchRow> read_batches(const std::filesystem::path& path) {
    const Table table = detail::read_table(path, {"ref", "sku", "qty", "eta"});
    std::vector<BatchRow> rows;
    rows.reserve(table.size());
    std::unordered_set<std::string> refs;
    for (std::size_t i = 0; i < table.size(); ++i) {
        const Record& r = table.row(i);
        BatchRow row{detail::id_field(table, r, 0, "ref"), detail::id_field(table, r, 1, "sku"),
                     detail::qty_field(table, r, 2), detail::eta_field(table, r, 3), {table.file(), r.line, 1}};
        if (!refs.insert(row.ref).second) throw InputError(table.where(r, 0), fmt::format("batch {} appears twice", row.ref));
        rows.push_back(std::move(row));
    }
    return rows;
}

/// orders.csv: orderid,sku,qty.
inline std::vector<OrderRow> read_orders(const std::filesystem::path& path) {
    const Table table = detail::read_table(path, {"orderid", "sku", "qty"});
    std::vector<OrderRow> rows;
    rows.reserve(table.size());
    for (std::size_t i = 0; i < table.size(); ++i) {
        const Record& r = table.row(i);
        rows.push_back({{detail::id_field(table, r, 0, "orderid"), detail::id_field(table, r, 1, "sku"),
                         detail::qty_field(table, r, 2)},
                        {table.file(), r.line, 1},
                        table.at(r, 1).column});
    }
    return rows;
}

/// allocations.csv: orderid,sku,qty,batchref (batchref empty for a line waiting for stock).
inline std::vector<AllocationRow> read_allocations(const std::filesystem::path& path) {
    const Table table = detail::read_table(path, {"orderid", "sku", "qty", "batchref"});
    std::vector<AllocationRow> rows;
    rows.reserve(table.size());
    for (std::size_t i = 0; i < table.size(); ++i) {
        const Record& r = table.row(i);
        AllocationRow row{{detail::id_field(table, r, 0, "orderid"), detail::id_field(table, r, 1, "sku"),
                           detail::qty_field(table, r, 2)},
                          table.at(r, 3).text,
                          table.where(r, 3)};
        if (!row.batchref.empty()) detail::id_field(table, r, 3, "batchref");
        rows.push_back(std::move(row));
    }
    return rows;
}

}  // namespace allocation::csv
