// The service layer's handlers: free functions, one per use case, taking their dependencies as arguments.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include <fmt/format.h>

#include "allocation/domain/commands.hpp"
#include "allocation/domain/errors.hpp"
#include "allocation/domain/events.hpp"
#include "allocation/domain/model.hpp"
#include "allocation/ports/notifications.hpp"
#include "allocation/ports/outbox.hpp"
#include "allocation/ports/processed_messages.hpp"
#include "allocation/ports/publisher.hpp"
#include "allocation/ports/unit_of_work.hpp"

namespace allocation::handlers {

/// Where out-of-stock notifications go.
inline constexpr std::string_view stock_team = "stock@made.com";
/// The channel Allocated events are published on.
inline constexpr std::string_view line_allocated_channel = "line_allocated";

/// CreateBatch: adds the batch to its product, creating the product on its first batch; waiting lines it can take
/// are allocated to it in the same commit.
template <ports::UnitOfWork U>
void add_batch(const commands::CreateBatch& cmd, U& uow) {
    Batch batch(cmd.ref, cmd.sku, cmd.qty, cmd.eta);  // validates the ids, the quantity and the eta
    auto& products = uow.products();
    if (products.get_by_batchref(cmd.ref) != nullptr) throw DuplicateBatch(cmd.ref);
    Product* product = products.get(cmd.sku);
    if (product == nullptr) product = &products.add(Product(cmd.sku));
    product->add_batch(std::move(batch));
    uow.commit();
}

/// Allocate: returns the reference of the batch the line went to, or nothing when out of stock (or when the
/// line is already waiting for stock).
template <ports::UnitOfWork U>
std::optional<std::string> allocate(const commands::Allocate& cmd, U& uow) {
    check_quantity(cmd.qty);
    Product* product = uow.products().get_for_order(cmd.sku, cmd.orderid);
    if (product == nullptr) throw InvalidSku(cmd.sku);
    auto batchref = product->allocate(OrderLine{cmd.orderid, cmd.sku, cmd.qty});
    uow.commit();
    return batchref;
}

/// True the first time the message `message_id` reaches a unit of work, whose commit will then record it with the
/// message's effect; false for a message already applied (or recorded by this unit of work). No id: always true.
/// A unit of work that cannot record ids (ports::RecordsProcessedMessages) refuses an id rather than lose the
/// guarantee: allocation::Error.
template <ports::UnitOfWork U>
bool first_delivery(const std::optional<std::string>& message_id, U& uow) {
    if (!message_id) return true;
    if constexpr (ports::RecordsProcessedMessages<U>) {
        if (uow.messages().seen(*message_id)) return false;
        uow.messages().record(*message_id);
        return true;
    } else {
        throw Error("cannot apply message " + *message_id + " at most once: this storage records no message ids");
    }
}

/// ChangeBatchQuantity: sets the purchased quantity (0 cancels the batch); lines that no longer fit are deallocated
/// and, in the same commit, allocated again or kept waiting for stock (Product::change_batch_quantity). A command
/// with a message id already applied changes nothing; otherwise the id is recorded in the same commit.
template <ports::UnitOfWork U>
void change_batch_quantity(const commands::ChangeBatchQuantity& cmd, U& uow) {
    if (!first_delivery(cmd.message_id, uow)) return;
    check_quantity(cmd.qty, "qty", min_changed_quantity);
    Product* product = uow.products().get_by_batchref(cmd.ref);
    if (product == nullptr) throw UnknownBatch(cmd.ref);
    product->change_batch_quantity(cmd.ref, cmd.qty);
    uow.commit();
}

/// OutOfStock: tells the stock team.
template <ports::Notifier N>
void send_out_of_stock_notification(const events::OutOfStock& event, N& notifier) {
    notifier.send(stock_team, fmt::format("Out of stock for {}", event.sku));
}

/// Allocated: tells the outside world, with the outbox row's id as the message id.
template <ports::EventPublisher P>
void publish_allocated_event(const ports::OutboxMessage& message, P& publisher) {
    publisher.publish(line_allocated_channel, message);
}

/// The outbound handlers: what consumes the outbox's rows, each by the type of its event (the book's
/// publish_allocated_event and send_out_of_stock_notification). The one way events leave the process: right after
/// their commit through the bus's Delivery, and again by the relay when that failed. Keeps references to the
/// notifier and the publisher, which must outlive it. A row of another type is an allocation::Error.
template <ports::Notifier N, ports::EventPublisher P>
class Outbound {
public:
    Outbound(N& notifier, P& publisher) noexcept : notifier_(&notifier), publisher_(&publisher) {}

    void operator()(const ports::OutboxMessage& message) const {
        if (const auto* out_of_stock = std::get_if<events::OutOfStock>(&message.event)) {
            send_out_of_stock_notification(*out_of_stock, *notifier_);
        } else if (std::holds_alternative<events::Allocated>(message.event)) {
            publish_allocated_event(message, *publisher_);
        } else {
            throw Error("no outbound handler for outbox row " + message.id);
        }
    }

private:
    N* notifier_;
    P* publisher_;
};

}  // namespace allocation::handlers
