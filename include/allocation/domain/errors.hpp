// Errors of the allocation domain: each reads as a sentence a user can act on, and every one but a misuse of the
// library (LinesNotLoaded) derives from allocation::Error.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace allocation {

/// Base of every error the library raises on purpose.
class Error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// A SKU nobody has created a batch for ("Invalid sku RED-CHAIR").
class InvalidSku : public Error {
public:
    explicit InvalidSku(std::string_view sku) : Error("Invalid sku " + std::string(sku)) {}
};

/// A batch reference that does not exist ("Unknown batch b-17").
class UnknownBatch : public Error {
public:
    explicit UnknownBatch(std::string_view reference) : Error("Unknown batch " + std::string(reference)) {}
};

/// A second batch with a reference that is already taken.
class DuplicateBatch : public Error {
public:
    explicit DuplicateBatch(std::string_view reference)
        : Error("Batch " + std::string(reference) + " already exists") {}
};

/// A second line of one order for the same SKU, with another quantity: an order has one line per SKU.
class DuplicateLine : public Error {
public:
    DuplicateLine(std::string_view orderid, std::string_view sku, int existing_qty)
        : Error("Order " + std::string(orderid) + " already has a line of " + std::to_string(existing_qty) + " " +
                std::string(sku)) {}
};

/// A quantity that is not positive (or otherwise out of range for its field).
class InvalidQuantity : public Error {
public:
    using Error::Error;
};

/// An id (order id, SKU, batch reference) that cannot be stored, looked up and logged safely
/// ("batch reference must not be empty").
class InvalidId : public Error {
public:
    using Error::Error;
};

/// An eta that is not a real day of the years a date may name ("Invalid eta 2026-02-30").
class InvalidDate : public Error {
public:
    using Error::Error;
};

/// A message or request that is not what its channel expects (a missing field, a quantity that is not an integer):
/// however often it is tried again, it can never succeed.
class MalformedMessage : public Error {
public:
    using Error::Error;
};

/// Someone else changed the product between our read and our commit; nothing was written.
/// The message bus retries the message with a fresh unit of work.
class ConcurrencyError : public Error {
public:
    using Error::Error;
};

/// A lookup that needs lines of a product its unit of work did not load, once the product has changes not committed
/// yet: an adapter that loads lazily cannot read it again without losing them. A misuse, not an error of the input:
/// look up every order and batch first, as each handler does. (MessageBus::handle_group runs a message of a group
/// that meets it again, alone.)
class LinesNotLoaded : public std::logic_error {
public:
    using std::logic_error::logic_error;
};

/// A storage adapter could not do its job (unwritable path, corrupt file, newer schema, ...).
class StorageError : public Error {
public:
    using Error::Error;
};

/// Stored state that breaks a rule of the domain (more allocated than purchased, an order in two batches,
/// ...), found while rebuilding an aggregate: the storage was changed by something other than this library.
class CorruptData : public StorageError {
public:
    using StorageError::StorageError;
};

}  // namespace allocation
