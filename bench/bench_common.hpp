// What the end-to-end benchmarks share: medians, order ids, the CPU time of a thread.
#pragma once

#include <time.h>

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

namespace allocation::bench {

/// CPU time of this thread (user + system): unlike wall time, it does not count waiting for a core on a busy
/// machine.
inline double cpu_seconds() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

inline double median(std::vector<double> values) {
    std::sort(values.begin(), values.end());
    return values[values.size() / 2];
}

inline std::string order_id(std::string_view prefix, long n) { return std::string(prefix) + std::to_string(n); }

}  // namespace allocation::bench
