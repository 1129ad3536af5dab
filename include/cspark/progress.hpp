// Progress of ImpEx operations: what a migration reports while it runs.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

namespace cspark {

struct progress_event {
    enum class kind { job_created, status, bytes, retry, finished, failed } what = kind::status;
    std::string job_kind;   ///< "export" or "import"
    std::string job_id;
    std::string status;     ///< job status (status, finished)
    std::uint64_t bytes = 0, total = 0;  ///< transfer progress (bytes); total 0 = unknown
    std::chrono::milliseconds delay{0};  ///< retry: wait before the next attempt
    std::string message;    ///< retry reason, failure text
    /// retry: a stable reason code: "job_slot_busy" (another job of the
    /// tenant runs), "request_not_received" (a POST failed before a job was
    /// made: sent again), "download_resumed" (a download continues by Range)
    std::string reason;
};
using progress_fn = std::function<void(const progress_event&)>;

}  // namespace cspark
