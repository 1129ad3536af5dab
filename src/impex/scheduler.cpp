#include "impex/scheduler.hpp"

#include "impex/planner.hpp"

#include <cspark/job.hpp>

namespace cspark::detail {

void fleet_scheduler::enqueue(fleet_task t, bool front) {
    if (front) queue_.push_front(std::move(t));
    else queue_.push_back(std::move(t));
}

std::optional<fleet_task> fleet_scheduler::take(const std::function<bool(const std::string&)>& busy) {
    auto it = queue_.begin();
    while (it != queue_.end() && !it->slot.empty() && busy(it->slot)) ++it;
    if (it == queue_.end()) {
        if (running_ > 0 || queue_.empty()) return std::nullopt;
        it = queue_.begin();  // nothing runs that could free a slot: take the first
    }
    fleet_task t = std::move(*it);
    queue_.erase(it);
    ++running_;
    return t;
}

void fleet_scheduler::finished() {
    if (running_ > 0) --running_;
}

std::vector<std::vector<std::size_t>> parts_after(const migration_result& m, const std::vector<std::size_t>& members,
                                                  const std::vector<std::vector<std::string>>& names) {
    if (!m.ec || members.size() < 2 || !failure_splits(m.ec)) return {};
    // An import that failed with errors listed imported nothing (Spark's
    // imports are all or nothing): its parts may run again. One that ended in
    // a failing status without errors, or whose status check was answered by
    // an error document, says nothing of what it did: running its parts again
    // could import twice (found by the fault matrix: 'FAILED', and imported).
    if (!m.imported.empty()) {
        const auto& last = m.imported.back().job;
        if (last.state == job_state::failed && (last.error_envelope || !has_errors(last.errors))) return {};
    }
    auto named = named_members(m.diag.to_string() + " " + m.diag.detail, names);
    return split_group(members, named);
}

}  // namespace cspark::detail
