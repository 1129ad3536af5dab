// Job lifecycle decisions as pure code: what a status response means, and
// when to look again. The coroutines only sleep and send.
#pragma once

#include <boost/json/value.hpp>

#include <chrono>
#include <string_view>

namespace cspark {

enum class job_state {
    pending,    ///< created / in_progress / anything unknown: keep polling
    succeeded,  ///< completed or closed, without errors
    failed,     ///< errors set, or a failing status (failed, error, *_by_timeout)
    cancelled,  ///< cancelled
};

/// Spark's rule as both SDKs read it, made strict. Statuses are compared
/// without regard to case. Finished = completed or closed; `failed`, `error`,
/// `closed_by_timeout`, `completed_by_timeout` (the statuses of Spark's other
/// job APIs), and errors on any status, are failures that end polling at once
/// (the SDKs poll such jobs until retries run out); `cancelled` ends it too.
/// `errors` counts when it is anything but null, false, or an empty list,
/// object or string. Any other status is pending: polled until the deadline.
job_state classify_job(std::string_view status, const boost::json::value& errors) noexcept;

/// Whether `errors` (null, a list, an object, a string...) holds anything.
bool has_errors(const boost::json::value& errors) noexcept;

/// Whether `status` is one classify_job knows (created, in_progress, closed,
/// completed, failed, ...): an unknown one is named when polling gives up.
bool known_job_status(std::string_view status) noexcept;

struct poll_policy {
    int max_attempts = 0;  ///< status checks; 0 = until the deadline (SDK max_retries when given)
    std::chrono::milliseconds interval{1000};  ///< first wait (SDK retry_interval)
    std::chrono::milliseconds max_interval{10000};  ///< waits grow (x growth) up to this
    std::chrono::milliseconds deadline{30 * 60 * 1000};  ///< whole poll; 0 = none
    double jitter = 0.2;  ///< +-20 % so thousands of pollers spread out
    double growth = 1.5;  ///< each wait is the one before times this (values below 1 count as 1)
};

struct poll_step {
    enum class action { wait, give_up } what = action::wait;
    std::chrono::milliseconds delay{0};
    std::string_view reason;
};

/// After `attempts` status checks that found the job pending, `elapsed` since
/// polling began: wait how long, or give up (attempts or deadline exhausted).
poll_step next_poll(const poll_policy& p, int attempts, std::chrono::milliseconds elapsed, double random01) noexcept;

}  // namespace cspark
