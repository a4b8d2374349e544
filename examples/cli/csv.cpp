// CSV reading and atomic writing for the batch job.
#include "csv.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <unordered_set>

#include <fmt/format.h>

#include "allocation/domain/format.hpp"

namespace allocation::csv {

namespace fs = std::filesystem;

namespace {


std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

/// Checks the header and each row's field count; hands each data record to `row`.
template <typename Row>
void for_each_row(const std::vector<Record>& records, const std::string& file,
                  const std::vector<std::string_view>& header, Row&& row) {
    std::string expected;
    for (auto name : header) {
        if (!expected.empty()) expected += ',';
        expected += name;
    }
    if (records.empty()) throw InputError({file, 1, 1}, fmt::format("empty file; expected the header {}", expected));
    const Record& first = records.front();
    bool header_ok = first.fields.size() == header.size();
    for (std::size_t i = 0; header_ok && i < header.size(); ++i) header_ok = first.fields[i].text == header[i];
    if (!header_ok) throw InputError({file, first.line, 1}, fmt::format("expected the header {}", expected));
    for (std::size_t r = 1; r < records.size(); ++r) {
        const Record& record = records[r];
        if (record.fields.size() != header.size()) {
            std::size_t column = record.fields.size() > header.size() ? record.fields[header.size()].column
                                                                      : record.fields.back().column;
            throw InputError({file, record.line, column},
                             fmt::format("expected {} fields ({}), got {}", header.size(), expected, record.fields.size()));
        }
        row(record);
    }
}

std::string text_field(const Record& record, std::size_t index, std::string_view name, const std::string& file) {
    const Field& f = record.fields[index];
    if (auto problem = id_problem(f.text)) throw InputError({file, record.line, f.column}, fmt::format("{} {}", name, *problem));
    return f.text;
}

Quantity qty_field(const Record& record, std::size_t index, const std::string& file) {
    const Field& f = record.fields[index];
    long long value = 0;
    auto [ptr, ec] = std::from_chars(f.text.data(), f.text.data() + f.text.size(), value);
    if (ec == std::errc{} && ptr == f.text.data() + f.text.size() && value >= 1 && value <= max_quantity) {
        return static_cast<Quantity>(value);
    }
    throw InputError({file, record.line, f.column},
                     fmt::format("qty must be a whole number between 1 and {}, got '{}'", max_quantity, f.text));
}

}  // namespace

std::vector<Record> parse(std::string_view text, const std::string& file) {
    std::vector<Record> records;
    std::size_t line = 1, line_start = 0, i = 0;
    const std::size_t n = text.size();
    if (n >= 3 && text.substr(0, 3) == "\xEF\xBB\xBF") i = line_start = 3;  // a UTF-8 byte order mark
    while (i < n) {
        // blank line
        if (text[i] == '\n' || (text[i] == '\r' && i + 1 < n && text[i + 1] == '\n')) {
            i += text[i] == '\r' ? 2 : 1;
            ++line;
            line_start = i;
            continue;
        }
        Record record;
        record.line = line;
        for (;;) {
            Field f;
            f.column = i - line_start + 1;
            std::size_t probe = i;
            while (probe < n && (text[probe] == ' ' || text[probe] == '\t')) ++probe;
            if (probe < n && text[probe] == '"') {
                const Location opening{file, line, probe - line_start + 1};
                i = probe + 1;
                for (;;) {
                    if (i >= n) throw InputError(opening, "unterminated quoted field");
                    char c = text[i];
                    if (c == '"') {
                        if (i + 1 < n && text[i + 1] == '"') {
                            f.text += '"';
                            i += 2;
                            continue;
                        }
                        ++i;
                        break;
                    }
                    if (c == '\n') {
                        ++line;
                        line_start = i + 1;
                    }
                    f.text += c;
                    ++i;
                }
                while (i < n && (text[i] == ' ' || text[i] == '\t')) ++i;
                if (i < n && text[i] != ',' && text[i] != '\n' && text[i] != '\r') {
                    throw InputError({file, line, i - line_start + 1}, "unexpected character after a closing quote");
                }
            } else {
                std::size_t end = i;
                while (end < n && text[end] != ',' && text[end] != '\n' && text[end] != '\r') ++end;
                std::string_view raw = text.substr(i, end - i);
                if (raw.find('"') != std::string_view::npos) {
                    throw InputError({file, line, i - line_start + raw.find('"') + 1},
                                     "a double quote inside an unquoted field");
                }
                f.text = std::string(trim(raw));
                i = end;
            }
            record.fields.push_back(std::move(f));
            if (i < n && text[i] == ',') {
                ++i;
                continue;
            }
            break;
        }
        if (i < n && text[i] == '\r') ++i;
        if (i < n && text[i] == '\n') ++i;
        ++line;
        line_start = i;
        records.push_back(std::move(record));
    }
    return records;
}

std::string read_text(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw InputError({path.string(), 1, 1}, std::string("cannot read the file: ") + std::strerror(errno));
    std::ostringstream text;
    text << in.rdbuf();
    return std::move(text).str();
}

std::vector<BatchRow> read_batches(const fs::path& path) {
    const std::string file = path.string();
    std::vector<BatchRow> rows;
    std::unordered_set<std::string> refs;
    for_each_row(parse(read_text(path), file), file, {"ref", "sku", "qty", "eta"}, [&](const Record& r) {
        BatchRow row;
        row.where = {file, r.line, 1};
        row.ref = text_field(r, 0, "ref", file);
        row.sku = text_field(r, 1, "sku", file);
        row.qty = qty_field(r, 2, file);
        if (!r.fields[3].text.empty()) {
            row.eta = parse_date(r.fields[3].text);
            if (!row.eta) {
                throw InputError({file, r.line, r.fields[3].column},
                                 fmt::format("eta must be a real date written YYYY-MM-DD (or empty), got '{}'", r.fields[3].text));
            }
        }
        if (!refs.insert(row.ref).second) {
            throw InputError({file, r.line, r.fields[0].column}, fmt::format("batch {} appears twice", row.ref));
        }
        rows.push_back(std::move(row));
    });
    return rows;
}

std::vector<OrderRow> read_orders(const fs::path& path) {
    const std::string file = path.string();
    std::vector<OrderRow> rows;
    for_each_row(parse(read_text(path), file), file, {"orderid", "sku", "qty"}, [&](const Record& r) {
        OrderRow row;
        row.where = {file, r.line, 1};
        row.line.orderid = text_field(r, 0, "orderid", file);
        row.line.sku = text_field(r, 1, "sku", file);
        row.line.qty = qty_field(r, 2, file);
        row.sku_column = r.fields[1].column;
        rows.push_back(std::move(row));
    });
    return rows;
}

std::vector<AllocationRow> read_allocations(const fs::path& path) {
    std::vector<AllocationRow> rows;
    std::error_code ec;
    if (!fs::exists(path, ec)) return rows;
    const std::string file = path.string();
    for_each_row(parse(read_text(path), file), file, {"orderid", "sku", "qty", "batchref"}, [&](const Record& r) {
        AllocationRow row;
        row.where = {file, r.line, 1};
        row.line.orderid = text_field(r, 0, "orderid", file);
        row.line.sku = text_field(r, 1, "sku", file);
        row.line.qty = qty_field(r, 2, file);
        row.batchref = text_field(r, 3, "batchref", file);
        row.batchref_column = r.fields[3].column;
        rows.push_back(std::move(row));
    });
    return rows;
}

std::string field(std::string_view text) {
    const bool quote = text.find_first_of(",\"\r\n") != std::string_view::npos ||
                       (!text.empty() && (text.front() == ' ' || text.back() == ' '));
    if (!quote) return std::string(text);
    std::string out = "\"";
    for (char c : text) {
        if (c == '"') out += '"';
        out += c;
    }
    out += '"';
    return out;
}

void write_atomically(const fs::path& path, std::string_view content) {
    const fs::path temp = path.parent_path() / fmt::format(".{}.tmp-{}", path.filename().string(), ::getpid());
    auto fail = [&](const char* what) {
        const std::string why = std::strerror(errno);
        ::unlink(temp.c_str());
        throw std::runtime_error(fmt::format("{} {}: {}", what, temp.string(), why));
    };
    int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) fail("cannot create");
    for (std::size_t done = 0; done < content.size();) {
        ssize_t written = ::write(fd, content.data() + done, content.size() - done);
        if (written < 0) {
            if (errno == EINTR) continue;
            ::close(fd);
            fail("cannot write");
        }
        done += static_cast<std::size_t>(written);
    }
    if (::fsync(fd) != 0) {
        ::close(fd);
        fail("cannot flush");
    }
    if (::close(fd) != 0) fail("cannot close");
    if (::rename(temp.c_str(), path.c_str()) != 0) fail("cannot rename");
    // Make the rename itself durable.
    int dir = ::open(path.parent_path().empty() ? "." : path.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir >= 0) {
        ::fsync(dir);
        ::close(dir);
    }
}

}  // namespace allocation::csv
