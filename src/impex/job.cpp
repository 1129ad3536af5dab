#include <cspark/job.hpp>

#include <algorithm>
#include <cmath>

namespace cspark {

job_state classify_job(std::string_view status, const boost::json::value& errors) noexcept {
    bool has_errors = !errors.is_null() && !(errors.is_array() && errors.get_array().empty()) &&
                      !(errors.is_object() && errors.get_object().empty()) &&
                      !(errors.is_string() && errors.get_string().empty()) && !(errors.is_bool() && !errors.get_bool());
    if (status == "cancelled" || status == "canceled") return job_state::cancelled;
    if (status == "failed" || status == "error") return job_state::failed;
    if (status == "completed" || status == "closed") return has_errors ? job_state::failed : job_state::succeeded;
    return job_state::pending;
}

poll_step next_poll(const poll_policy& p, int attempts, std::chrono::milliseconds elapsed, double random01) noexcept {
    using ms = std::chrono::milliseconds;
    if (p.max_attempts > 0 && attempts >= p.max_attempts) return {poll_step::action::give_up, ms::zero(), "max attempts reached"};
    double base = static_cast<double>(p.interval.count()) * std::pow(std::max(p.growth, 1.0), std::clamp(attempts - 1, 0, 60));
    if (p.max_interval.count() > 0) base = std::min(base, static_cast<double>(p.max_interval.count()));
    double j = std::clamp(p.jitter, 0.0, 1.0);
    double r = std::clamp(random01, 0.0, 1.0);
    ms delay(static_cast<ms::rep>(base * (1.0 - j + 2.0 * j * r)));
    if (p.deadline.count() > 0) {
        if (elapsed >= p.deadline) return {poll_step::action::give_up, ms::zero(), "poll deadline passed"};
        delay = std::min(delay, p.deadline - elapsed);  // one last look at the deadline
    }
    return {poll_step::action::wait, delay, "job still running"};
}

}  // namespace cspark
