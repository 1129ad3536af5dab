// What recent jobs took: the record behind poll_options::adaptive.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>

namespace cspark {

/// Durations of recent jobs, by key: "{kind} {tenant base URL}" (a tenant's
/// own jobs) and "{kind} {host}" (every tenant on one Spark host, used for a
/// tenant with no history yet). Each transport holds one
/// (transport::history()): the clients that share a transport share what
/// their jobs took; clients on separate transports learn separately. Nothing
/// is process-wide. Thread-safe.
class job_history {
public:
    /// The median of the last 8 durations recorded under `key`; none yet: nullopt.
    std::optional<std::chrono::milliseconds> expected(const std::string& key) const;
    void record(const std::string& key, std::chrono::milliseconds duration);
    /// Forgets everything (a test, or a tenant whose jobs changed character).
    void clear();

private:
    struct ring {
        std::chrono::milliseconds last[8]{};
        std::size_t n = 0;
    };
    mutable std::mutex mu_;
    std::map<std::string, ring> rings_;
};

}  // namespace cspark
