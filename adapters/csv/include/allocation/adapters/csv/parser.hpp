// Reading CSV the way Python's csv.DictReader does: columns found by their header, in any order; CRLF or LF; quoted
// fields with commas, doubled quotes and line breaks; a UTF-8 byte order mark. Errors name file:line:column.
#pragma once

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "allocation/domain/errors.hpp"

namespace allocation::csv {

/// The longest field the parser takes, in bytes: far above any id (max_id_length) or number, so that only a
/// broken file (a quote never closed, say) reaches it, and a file cannot make one field hold all memory.
inline constexpr std::size_t max_field_length = 4096;

/// Where something is in a file: 1-based line and column (in bytes, after a byte order mark).
struct Location {
    std::string file;
    std::size_t line = 0;
    std::size_t column = 0;
};

/// A file the adapter cannot use; what() reads "batches.csv:3:2: sku must not be empty".
class InputError : public Error {
public:
    InputError(const Location& where, const std::string& message)
        : Error(fmt::format("{}:{}:{}: {}", where.file, where.line, where.column, message)) {}
};

struct Field {
    std::string text;
    std::size_t column = 0;
};

struct Record {
    std::size_t line = 0;
    std::vector<Field> fields;
};

namespace detail {

inline std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

/// Reads CSV text one field at a time, keeping track of the line and column for errors.
class Scanner {
public:
    Scanner(std::string_view text, const std::string& file) : text_(text), file_(file) {
        if (text_.substr(0, 3) == "\xEF\xBB\xBF") i_ = line_start_ = 3;  // a UTF-8 byte order mark
    }

    /// The next record, skipping blank lines; false at the end of the text.
    bool next(Record& record) {
        skip_blank_lines();
        if (i_ >= text_.size()) return false;
        record.line = line_;
        record.fields.clear();
        do record.fields.push_back(field());
        while (i_ < text_.size() && text_[i_] == ',' && ++i_);
        if (i_ < text_.size() && text_[i_] == '\r') ++i_;
        if (i_ < text_.size() && text_[i_] == '\n') ++i_;
        new_line(i_);
        return true;
    }

private:
    bool at_line_end(std::size_t at) const {
        return text_[at] == '\n' || (text_[at] == '\r' && at + 1 < text_.size() && text_[at + 1] == '\n');
    }
    void new_line(std::size_t start) {
        ++line_;
        line_start_ = start;
    }
    void skip_blank_lines() {
        while (i_ < text_.size() && at_line_end(i_)) {
            i_ += text_[i_] == '\r' ? 2 : 1;
            new_line(i_);
        }
    }
    Location here(std::size_t at) const { return {file_, line_, at - line_start_ + 1}; }
    void check_length(const Field& f, const Location& start) const {
        if (f.text.size() > max_field_length) {
            throw InputError(start, fmt::format("field longer than {} bytes", max_field_length));
        }
    }

    Field field() {
        std::size_t probe = i_;
        while (probe < text_.size() && (text_[probe] == ' ' || text_[probe] == '\t')) ++probe;
        if (probe < text_.size() && text_[probe] == '"') return quoted(probe);
        return unquoted();
    }

    Field quoted(std::size_t opening) {
        const Location start = here(i_), quote = here(opening);
        Field f{std::string(), start.column};
        for (i_ = opening + 1;; ++i_) {
            if (i_ >= text_.size()) throw InputError(quote, "unterminated quoted field");
            const char c = text_[i_];
            if (c == '"') {
                if (i_ + 1 >= text_.size() || text_[i_ + 1] != '"') break;
                ++i_;  // a doubled quote is one quote
            } else if (c == '\n') {
                new_line(i_ + 1);
            }
            f.text += c;
            check_length(f, start);
        }
        ++i_;
        while (i_ < text_.size() && (text_[i_] == ' ' || text_[i_] == '\t')) ++i_;
        if (i_ < text_.size() && text_[i_] != ',' && text_[i_] != '\n' && text_[i_] != '\r') {
            throw InputError(here(i_), "unexpected character after a closing quote");
        }
        return f;
    }

    Field unquoted() {
        const Location start = here(i_);
        std::size_t end = i_;
        while (end < text_.size() && text_[end] != ',' && text_[end] != '\n' && text_[end] != '\r') ++end;
        const std::string_view raw = text_.substr(i_, end - i_);
        if (const auto quote = raw.find('"'); quote != std::string_view::npos) {
            throw InputError(here(i_ + quote), "a double quote inside an unquoted field");
        }
        Field f{std::string(trim(raw)), start.column};
        check_length(f, start);
        i_ = end;
        return f;
    }

    std::string_view text_;
    const std::string& file_;
    std::size_t i_ = 0, line_ = 1, line_start_ = 0;
};

}  // namespace detail

/// Splits CSV text (RFC 4180, as csv.DictReader reads it) into records, skipping blank lines. Unquoted fields are
/// trimmed of spaces and tabs; a lone \r ends a record as \n does. `file` names the input in error messages.
inline std::vector<Record> parse(std::string_view text, const std::string& file) {
    std::vector<Record> records;
    detail::Scanner scanner(text, file);
    for (Record record; scanner.next(record);) records.push_back(std::move(record));
    return records;
}

/// A parsed file whose first record names the columns: rows are read by column name, in whatever order the
/// columns come. Columns that are not asked for are ignored, as DictReader keeps them aside.
class Table {
public:
    /// Throws InputError at 1:1 for an empty file or a header without one of `columns`, and at the first
    /// surplus or last field of a row that does not have one field per column.
    Table(std::vector<Record> records, std::string file, const std::vector<std::string_view>& columns)
        : records_(std::move(records)), file_(std::move(file)) {
        std::string expected = fmt::format("{}", fmt::join(columns, ","));
        if (records_.empty()) throw InputError({file_, 1, 1}, "empty file; expected the header " + expected);
        const Record& header = records_.front();
        for (std::string_view name : columns) {
            std::size_t index = 0;
            while (index < header.fields.size() && header.fields[index].text != name) ++index;
            if (index == header.fields.size()) {
                throw InputError({file_, header.line, 1},
                                 fmt::format("expected the header {} (in any order), but there is no column {}",
                                             expected, name));
            }
            index_.push_back(index);
        }
        check_widths();
    }

    const std::string& file() const noexcept { return file_; }
    /// The data rows (every record after the header).
    std::size_t size() const noexcept { return records_.size() - 1; }
    const Record& row(std::size_t i) const noexcept { return records_[i + 1]; }
    /// Field `column` (the index of its name in the constructor's `columns`) of `row`.
    const Field& at(const Record& row, std::size_t column) const noexcept { return row.fields[index_[column]]; }
    Location where(const Record& row, std::size_t column) const { return {file_, row.line, at(row, column).column}; }

private:
    void check_widths() const {
        const std::vector<Field>& header = records_.front().fields;
        std::vector<std::string_view> names;
        for (const Field& f : header) names.push_back(f.text);
        for (std::size_t r = 1; r < records_.size(); ++r) {
            const Record& record = records_[r];
            if (record.fields.size() == header.size()) continue;
            const std::size_t column = record.fields.size() > header.size() ? record.fields[header.size()].column
                                                                            : record.fields.back().column;
            throw InputError({file_, record.line, column}, fmt::format("expected {} fields ({}), got {}", header.size(),
                                                                       fmt::join(names, ","), record.fields.size()));
        }
    }

    std::vector<Record> records_;
    std::string file_;
    std::vector<std::size_t> index_;  // column asked for -> its position in the file
};

/// One CSV field, quoted when it has to be: a comma, a quote, a line break, spaces or tabs that trimming would
/// lose, or a leading byte order mark that would be taken for the file's.
inline std::string field(std::string_view text) {
    const bool quote = text.find_first_of(",\"\r\n") != std::string_view::npos || text.starts_with("\xEF\xBB\xBF") ||
                       (!text.empty() && (text.front() == ' ' || text.back() == ' ' || text.front() == '\t' ||
                                          text.back() == '\t'));
    if (!quote) return std::string(text);
    std::string out = "\"";
    for (char c : text) {
        if (c == '"') out += '"';
        out += c;
    }
    out += '"';
    return out;
}

/// The whole file; throws InputError (at 1:1) when it cannot be read.
inline std::string read_text(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw InputError({path.string(), 1, 1}, std::string("cannot read the file: ") + std::strerror(errno));
    std::ostringstream text;
    text << in.rdbuf();
    return std::move(text).str();
}

}  // namespace allocation::csv
