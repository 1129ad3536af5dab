#include <cspark/job.hpp>

#include <algorithm>
#include <cmath>

namespace cspark {

namespace {

bool same(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        char x = a[i] >= 'A' && a[i] <= 'Z' ? static_cast<char>(a[i] - 'A' + 'a') : a[i];
        if (x != b[i]) return false;
    }
    return true;
}

bool one_of(std::string_view s, std::initializer_list<std::string_view> names) noexcept {
    for (auto n : names)
        if (same(s, n)) return true;
    return false;
}

}  // namespace

bool has_errors(const boost::json::value& errors) noexcept {
    return !errors.is_null() && !(errors.is_array() && errors.get_array().empty()) &&
           !(errors.is_object() && errors.get_object().empty()) && !(errors.is_string() && errors.get_string().empty()) &&
           !(errors.is_bool() && !errors.get_bool());
}

bool known_job_status(std::string_view status) noexcept {
    return one_of(status, {"created", "queued", "pending", "in_progress", "inprogress", "running", "processing", "closed",
                           "completed", "failed", "error", "cancelled", "canceled", "closed_by_timeout",
                           "completed_by_timeout"});
}

job_state classify_job(std::string_view status, const boost::json::value& errors) noexcept {
    if (one_of(status, {"cancelled", "canceled"})) return job_state::cancelled;
    if (one_of(status, {"failed", "error", "closed_by_timeout", "completed_by_timeout"})) return job_state::failed;
    if (has_errors(errors)) return job_state::failed;  // errors end the job whatever its status says
    if (one_of(status, {"completed", "closed"})) return job_state::succeeded;
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
