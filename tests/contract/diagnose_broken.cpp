// Compiled by the contract_diagnostics tests, expected to fail: each BROKEN_* type misses one requirement of a port,
// and the port's diagnose_* function must say which, in a sentence.
#include <span>
#include <string_view>
#include <vector>

#include "allocation/ports/notifications.hpp"
#include "allocation/ports/outbox.hpp"
#include "allocation/ports/publisher.hpp"
#include "allocation/ports/unit_of_work.hpp"

using namespace allocation;

struct RepositoryWithoutSeen {
    Product& add(Product);
    Product* get(std::string_view);
    Product* get_for_order(std::string_view, std::string_view);
    Product* get_by_batchref(std::string_view);
};
struct ViewWithoutRemove {
    void add(std::string_view, std::string_view, std::string_view);
    std::vector<ports::AllocationRow> allocations(std::string_view) const;
};
struct UnitOfWorkWithThrowingRollback {
    UnitOfWorkWithThrowingRollback(const UnitOfWorkWithThrowingRollback&) = delete;
    RepositoryWithoutSeen& products();
    ViewWithoutRemove& allocations();
    void commit();
    void rollback();
    std::vector<events::Event> collect_new_events();
    std::vector<ports::OutboxMessage> collect_outbox();
};
struct PublisherOfAllocatedOnly {
    void publish(std::string_view, const events::Allocated&);  // an event, not the outbox message
};
struct NotifierWithWrongArity {
    void send(std::string_view);
};
struct OutboxWithoutRelease {
    std::vector<ports::OutboxMessage> undelivered(std::size_t) const;
    std::vector<ports::OutboxMessage> claim(std::string_view, ports::OutboxTime, ports::OutboxTime, std::size_t);
    void mark_delivered(std::span<const std::string>, ports::OutboxTime);
    void flush();
    bool record_failure(std::string_view, std::string_view, ports::OutboxTime, std::string_view);
    ports::OutboxBacklog backlog() const;
};

#if defined(BROKEN_REPOSITORY)
static_assert(ports::diagnose_repository<RepositoryWithoutSeen>());
#elif defined(BROKEN_UNIT_OF_WORK)
static_assert(ports::diagnose_unit_of_work<UnitOfWorkWithThrowingRollback>());
#elif defined(BROKEN_PUBLISHER)
static_assert(ports::diagnose_event_publisher<PublisherOfAllocatedOnly>());
#elif defined(BROKEN_NOTIFIER)
static_assert(ports::diagnose_notifier<NotifierWithWrongArity>());
#elif defined(BROKEN_OUTBOX)
static_assert(ports::diagnose_outbox<OutboxWithoutRelease>());
#endif
