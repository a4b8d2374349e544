// The rows of one PostgreSQL commit, gathered as the commit meets them and written in one statement at its end.
#pragma once

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <string>
#include <vector>

#include <pqxx/pqxx>

#include "allocation/adapters/postgres/errors.hpp"
#include "allocation/adapters/postgres/statements.hpp"
#include "allocation/domain/errors.hpp"
#include "allocation/domain/model.hpp"
#include "allocation/domain/rules.hpp"
#include "allocation/outbox.hpp"
#include "allocation/ports/outbox.hpp"
#include "allocation/serialisation/json.hpp"

namespace allocation::postgres::detail {

/// What one commit inserts and updates, gathered until its end and then written in one statement
/// (sql::commit_rows), so that the commit's writes take one round trip however many rows they are. Its deletions
/// are statements of their own, run as the commit meets them, before that statement: a row one commit deletes and
/// inserts again is inserted after it went. A deletion of a row gathered here (inserted by the same commit) drops
/// it from the gathering instead. A failure found before the statement is reported after it, once the versions'
/// compare-and-set is known: a version that moved is reported first, as a ConcurrencyError.
class PendingRows {
public:
    PendingRows(pqxx::transaction_base& tx, const std::string& where) noexcept : tx_(&tx), where_(&where) {}

    void version(const Product& product) {
        versions_.push_back({product.sku(), product.version_number(), product.loaded_version()});
    }
    void line(const OrderLine& line, std::int64_t batch_id) { lines_.push_back({line, batch_id}); }
    void waiting(const OrderLine& line) { waiting_.push_back({line, 0}); }
    /// Drops the gathered line (of `batch_id`; waiting lines: 0); false when none is gathered.
    bool forget_line(const OrderLine& line, std::int64_t batch_id) { return forget(lines_, line, batch_id); }
    bool forget_waiting(const OrderLine& line) { return forget(waiting_, line, 0); }
    void batch(const Batch& batch, std::int64_t id) {
        batches_.push_back({id, batch.purchased_quantity(), batch.allocated_quantity()});
    }
    /// Sets the view's row of (orderid, sku); a later setting of a gathered row replaces its batch reference.
    void view_add(const std::string& orderid, const std::string& sku, const std::string& batchref) {
        const auto found = find_view(orderid, sku);
        if (found != view_.end()) {
            found->batchref = batchref;
        } else {
            view_.push_back({orderid, sku, batchref});
        }
    }
    void view_forget(const std::string& orderid, const std::string& sku) {
        const auto found = find_view(orderid, sku);
        if (found != view_.end()) view_.erase(found);
    }
    void outbox(const ports::OutboxMessage& message) { outbox_.push_back(message); }
    void messages(const std::vector<std::string>& ids) { messages_ = ids; }
    /// A failure (StorageError) to report once the statement has run; the first one is kept.
    void fail(std::string message) {
        if (failure_.empty()) failure_ = std::move(message);
    }

    /// Writes the gathered rows, then reports, in this order: a changed product whose version moved
    /// (ConcurrencyError), a failure found before, an outbox row or message id someone else stored meanwhile
    /// (ConcurrencyError). A line that clashes with a stored one is a StorageError.
    void write() {
        const auto counts = run_statement();
        if (counts[0] != versions_.size()) throw ConcurrencyError(moved_versions());
        if (!failure_.empty()) throw StorageError(failure_);
        if (counts[1] != outbox_.size()) {
            throw ConcurrencyError(names(outbox_, [](const auto& m) { return m.id; }, "outbox row") +
                                   " stored by someone else meanwhile");
        }
        if (counts[2] != messages_.size()) {
            throw ConcurrencyError(names(messages_, [](const auto& id) { return id; }, "message") +
                                   " applied meanwhile by another unit of work");
        }
    }

private:
    struct Version {
        std::string sku;
        std::int64_t next, read;
    };
    struct Line {
        OrderLine line;
        std::int64_t batch_id;
    };
    struct BatchRow {
        std::int64_t id;
        Quantity purchased, allocated;
    };
    struct ViewRow {
        std::string orderid, sku, batchref;
    };

    static bool forget(std::vector<Line>& rows, const OrderLine& line, std::int64_t batch_id) {
        const auto found = std::find_if(rows.rbegin(), rows.rend(), [&](const Line& row) {
            return row.batch_id == batch_id && row.line.orderid == line.orderid && row.line.sku == line.sku &&
                   row.line.qty == line.qty;
        });
        if (found == rows.rend()) return false;
        rows.erase(std::next(found).base());
        return true;
    }

    std::vector<ViewRow>::iterator find_view(const std::string& orderid, const std::string& sku) {
        return std::find_if(view_.begin(), view_.end(),
                            [&](const ViewRow& row) { return row.orderid == orderid && row.sku == sku; });
    }

    // The statement, its parameters the gathered rows as arrays; its row's counts.
    std::array<std::size_t, 3> run_statement() {
        try {
            const auto rows = run(*tx_, sql::commit_rows, column(versions_, &Version::sku),
                                  numbers(versions_, &Version::next), numbers(versions_, &Version::read),
                                  lines_text(lines_, &OrderLine::orderid), lines_text(lines_, &OrderLine::sku),
                                  line_quantities(lines_), numbers(lines_, &Line::batch_id),
                                  lines_text(waiting_, &OrderLine::orderid), lines_text(waiting_, &OrderLine::sku),
                                  line_quantities(waiting_), numbers(batches_, &BatchRow::id),
                                  numbers(batches_, &BatchRow::purchased), numbers(batches_, &BatchRow::allocated),
                                  column(view_, &ViewRow::orderid), column(view_, &ViewRow::sku),
                                  column(view_, &ViewRow::batchref), outbox_column(&outbox_sku),
                                  outbox_column(&outbox_version), outbox_column(&outbox_position),
                                  outbox_column(&outbox_type), outbox_column(&outbox_payload),
                                  outbox_column(&outbox_created), outbox_column(&outbox_next_attempt),
                                  text_array(messages_), now_microseconds());
            return {rows[0][0].as<std::size_t>(), rows[0][1].as<std::size_t>(), rows[0][2].as<std::size_t>()};
        } catch (const pqxx::unique_violation& e) {
            throw StorageError(describe(*where_, "storing an allocation",
                                        std::string("a line clashes with a stored line (") + e.what() +
                                            "); look the product up with get_for_order before allocating"));
        }
    }

    template <typename Row, typename Field>
    static std::string column(const std::vector<Row>& rows, Field Row::*field) {
        std::vector<std::string> items;
        items.reserve(rows.size());
        for (const Row& row : rows) items.push_back(row.*field);
        return text_array(items);
    }
    template <typename Row, typename Field>
    static std::string numbers(const std::vector<Row>& rows, Field Row::*field) {
        std::vector<std::int64_t> items;
        items.reserve(rows.size());
        for (const Row& row : rows) items.push_back(row.*field);
        return number_array(items);
    }
    static std::string lines_text(const std::vector<Line>& rows, std::string OrderLine::*field) {
        std::vector<std::string> items;
        items.reserve(rows.size());
        for (const Line& row : rows) items.push_back(row.line.*field);
        return text_array(items);
    }
    static std::string line_quantities(const std::vector<Line>& rows) {
        std::vector<std::int64_t> items;
        items.reserve(rows.size());
        for (const Line& row : rows) items.push_back(row.line.qty);
        return number_array(items);
    }

    // The outbox rows' columns, as the statement takes them.
    static std::string outbox_sku(const ports::OutboxMessage& m) { return m.sku; }
    static std::string outbox_version(const ports::OutboxMessage& m) { return std::to_string(m.version); }
    static std::string outbox_position(const ports::OutboxMessage& m) { return std::to_string(m.position); }
    static std::string outbox_type(const ports::OutboxMessage& m) { return std::string(event_type(m.event)); }
    static std::string outbox_payload(const ports::OutboxMessage& m) { return to_json(m.event); }
    static std::string outbox_created(const ports::OutboxMessage& m) {
        return std::to_string(outbox_microseconds(m.created_at));
    }
    static std::string outbox_next_attempt(const ports::OutboxMessage& m) {
        return std::to_string(outbox_microseconds(m.next_attempt_at));
    }
    std::string outbox_column(std::string (*field)(const ports::OutboxMessage&)) const {
        std::vector<std::string> items;
        items.reserve(outbox_.size());
        for (const auto& message : outbox_) items.push_back(field(message));
        return text_array(items);
    }

    static std::int64_t now_microseconds() {
        return std::chrono::duration_cast<std::chrono::microseconds>(
                   std::chrono::system_clock::now().time_since_epoch())
            .count();
    }

    std::string moved_versions() const {
        if (versions_.size() == 1) {
            return "Product " + versions_[0].sku + " was changed by someone else since version " +
                   std::to_string(versions_[0].read) + " was read; nothing was written";
        }
        return names(versions_, [](const Version& v) { return v.sku; }, "product") +
               " changed by someone else since it was read; nothing was written";
    }

    // "<what> a was" for one row, "one of <what>s a, b was" for several.
    template <typename Row, typename Name>
    static std::string names(const std::vector<Row>& rows, Name&& name, const std::string& what) {
        if (rows.size() == 1) return what + " " + name(rows[0]) + " was";
        std::string text = "one of " + what + "s ";
        for (std::size_t i = 0; i < rows.size(); ++i) text += (i > 0 ? ", " : "") + name(rows[i]);
        return text + " was";
    }

    pqxx::transaction_base* tx_;
    const std::string* where_;
    std::vector<Version> versions_;
    std::vector<Line> lines_, waiting_;
    std::vector<BatchRow> batches_;
    std::vector<ViewRow> view_;
    std::vector<ports::OutboxMessage> outbox_;
    std::vector<std::string> messages_;
    std::string failure_;
};

}  // namespace allocation::postgres::detail
