// Commands: what a caller asks the system to do. Each has exactly one handler.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <variant>

namespace allocation::commands {

/// Allocate one order line to the best batch of its SKU.
struct Allocate {
    std::string orderid;
    std::string sku;
    int qty = 0;
    friend bool operator==(const Allocate&, const Allocate&) = default;
};

/// Record a batch of stock: in the warehouse (no eta) or on its way (eta).
struct CreateBatch {
    std::string ref;
    std::string sku;
    int qty = 0;
    std::optional<std::chrono::year_month_day> eta;
    friend bool operator==(const CreateBatch&, const CreateBatch&) = default;
};

/// Set a batch's purchased quantity; lines that no longer fit are deallocated. A command that arrives by an
/// at-least-once channel carries the id of its message: a message id already applied is not applied again.
struct ChangeBatchQuantity {
    std::string ref;
    int qty = 0;
    std::optional<std::string> message_id{};
    friend bool operator==(const ChangeBatchQuantity&, const ChangeBatchQuantity&) = default;
};

using Command = std::variant<Allocate, CreateBatch, ChangeBatchQuantity>;

}  // namespace allocation::commands
