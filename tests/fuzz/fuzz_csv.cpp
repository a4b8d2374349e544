// libFuzzer target for the CSV parser of allocation::csv: any bytes parse into records or fail with an InputError
// naming fuzz.csv:line:column, never another exception; no field is longer than max_field_length; what field()
// writes of the records parses back to the same records; and a header-based table over them either opens or
// refuses with a located error. A violation traps; any other exception escapes and aborts the run.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "allocation/adapters/csv/parser.hpp"

namespace {

using allocation::csv::InputError;

void require(bool condition) {
    if (!condition) __builtin_trap();
}

void check_error(const InputError& error) {
    const std::string_view what = error.what();
    require(what.starts_with("fuzz.csv:"));
    require(what.size() > 9 && what[9] >= '1' && what[9] <= '9');  // lines count from 1
}

std::string write(const std::vector<allocation::csv::Record>& records) {
    std::string text;
    for (const auto& record : records) {
        // A record of one empty field would be a blank line, which the parser skips: quote it.
        if (record.fields.size() == 1 && record.fields[0].text.empty()) {
            text += "\"\"\n";
            continue;
        }
        for (std::size_t i = 0; i < record.fields.size(); ++i) {
            if (i > 0) text += ',';
            text += allocation::csv::field(record.fields[i].text);
        }
        text += "\r\n";
    }
    return text;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    std::vector<allocation::csv::Record> records;
    try {
        records = allocation::csv::parse(text, "fuzz.csv");
    } catch (const InputError& error) {
        check_error(error);
        return 0;
    }
    std::size_t previous_line = 0;
    for (const auto& record : records) {
        require(record.line > previous_line && !record.fields.empty());
        previous_line = record.line;
        for (const auto& field : record.fields) require(field.text.size() <= allocation::csv::max_field_length);
    }
    const auto again = allocation::csv::parse(write(records), "fuzz.csv");
    require(again.size() == records.size());
    for (std::size_t r = 0; r < records.size(); ++r) {
        require(again[r].fields.size() == records[r].fields.size());
        for (std::size_t f = 0; f < records[r].fields.size(); ++f) require(again[r].fields[f].text == records[r].fields[f].text);
    }
    try {
        allocation::csv::Table table(std::move(records), "fuzz.csv", {"orderid", "sku", "qty"});
        for (std::size_t i = 0; i < table.size(); ++i) require(table.where(table.row(i), 2).column >= 1);
    } catch (const InputError& error) {
        check_error(error);
    }
    return 0;
}
