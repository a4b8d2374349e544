// CSV files of the batch job (the book's appendix on CSVs): reading with file:line:column errors, and writing.
#pragma once

#include <cstddef>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "allocation/domain/model.hpp"

namespace allocation::csv {

/// Where something is in a file: 1-based line and column (in bytes).
struct Location {
    std::string file;
    std::size_t line = 0;
    std::size_t column = 0;
};

/// An input the job cannot use; what() reads "batches.csv:3:2: sku must not be empty".
class InputError : public std::runtime_error {
public:
    InputError(const Location& where, const std::string& message)
        : std::runtime_error(fmt::format("{}:{}:{}: {}", where.file, where.line, where.column, message)) {}
};

struct Field {
    std::string text;
    std::size_t column = 0;
};

struct Record {
    std::size_t line = 0;
    std::vector<Field> fields;
};

/// Splits CSV text (RFC 4180: commas, double quotes with "" inside, CRLF or LF) into records, skipping blank
/// lines. Unquoted fields are trimmed of spaces. `file` names the input in error messages.
std::vector<Record> parse(std::string_view text, const std::string& file);

struct BatchRow {
    std::string ref;
    std::string sku;
    Quantity qty = 0;
    std::optional<Date> eta;
    Location where;  // of the row
};

struct OrderRow {
    OrderLine line;
    Location where;      // of the row
    std::size_t sku_column = 0;
};

struct AllocationRow {
    OrderLine line;
    std::string batchref;
    Location where;
    std::size_t batchref_column = 0;
};

/// batches.csv: ref,sku,qty,eta (eta empty for warehouse stock). References must be unique.
std::vector<BatchRow> read_batches(const std::filesystem::path& path);
/// orders.csv: orderid,sku,qty.
std::vector<OrderRow> read_orders(const std::filesystem::path& path);
/// allocations.csv: orderid,sku,qty,batchref. A missing file has no rows.
std::vector<AllocationRow> read_allocations(const std::filesystem::path& path);

/// One CSV field, quoted when it has to be.
std::string field(std::string_view text);

/// Replaces `path` with `content` atomically: writes a temporary file beside it, flushes it to disk and
/// renames it over the old one, so a crash leaves either the old file or the new one, never half of one.
void write_atomically(const std::filesystem::path& path, std::string_view content);

/// The whole file; throws InputError (at 1:1) when it cannot be read.
std::string read_text(const std::filesystem::path& path);

}  // namespace allocation::csv
