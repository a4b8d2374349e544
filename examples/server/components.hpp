// The running service as a list of components (the storage, the delivery, the consumers, the HTTP adapter):
// started in order, asked in turn for GET /ready, stopped in reverse order.
#pragma once

#include <exception>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "allocation/adapters/http/requests.hpp"
#include "allocation/adapters/http/router.hpp"

namespace allocation::service {

struct Component {
    std::string name;
    std::function<void()> start = {};
    /// Must not throw; runs only after start succeeded.
    std::function<void()> stop = {};
    /// Adds what the component says of itself to the body of GET /ready; false when the service cannot serve
    /// without it for now. Must not throw.
    std::function<bool(nlohmann::json& body)> report = {};
};

class Components {
public:
    Components() = default;
    Components(const Components&) = delete;
    Components& operator=(const Components&) = delete;
    ~Components() { stop(); }

    void add(Component component) { components_.push_back(std::move(component)); }

    /// Starts each in the order added. When one throws, those started are stopped, in reverse, and it rethrows.
    void start() {
        for (const Component& component : components_) {
            try {
                if (component.start) component.start();
            } catch (...) {
                stop();
                throw;
            }
            ++started_;
        }
    }

    /// Stops those started, the last first. Idempotent.
    void stop() noexcept {
        for (; started_ > 0; --started_) {
            const Component& component = components_[started_ - 1];
            if (component.stop) component.stop();
        }
    }

    /// GET /ready: 200 {"status":"ready", ...} with what each component says, 503 "unavailable" when one of
    /// them cannot serve.
    http::Response readiness() const {
        nlohmann::json body = {{"status", "ready"}};
        bool ready = true;
        for (const Component& component : components_) {
            if (component.report && !component.report(body)) ready = false;
        }
        if (!ready) body["status"] = "unavailable";
        return {ready ? 200 : 503, http::to_text(body), "ready"};
    }

private:
    std::vector<Component> components_;
    std::size_t started_ = 0;
};

}  // namespace allocation::service
