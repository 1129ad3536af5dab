// The fleet's scheduling, with no I/O: which task starts next, and what a
// combined task that failed becomes. fleet.cpp's coroutines carry it out
// (run tasks, sleep while nothing is runnable, wake on a released slot).
#pragma once

#include <cspark/fleet.hpp>

#include <cstddef>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace cspark::detail {

/// One unit of work: one entry, or with coalescing the entries of one
/// tenant pair as one combined export and import.
struct fleet_task {
    std::vector<std::size_t> members;  ///< entry indexes
    migration_checkpoint from;         ///< where it resumes (the first member's checkpoint)
    std::string slot;                  ///< the source tenant's export slot ("" = none: an entry without a source)
    std::string import_slot;           ///< the target tenant's import slot ("" = none)
};

class fleet_scheduler {
public:
    /// Queues a task: at the back (the plan), or at the front (the parts of
    /// a split task, which run before the rest of the plan).
    void enqueue(fleet_task t, bool front = false);

    /// The task to start now: the first queued whose source tenant's export
    /// slot is not `busy`, so no worker waits behind a busy tenant while
    /// others are free. When nothing runs (nothing could free a slot), the
    /// first queued whatever its slot. nullopt: wait for a slot (or a split).
    /// A task taken counts as running until finished().
    std::optional<fleet_task> take(const std::function<bool(const std::string& slot)>& busy);

    /// A task taken has ended (its parts, if it split, were queued before).
    void finished();

    bool done() const noexcept { return queue_.empty() && running_ == 0; }
    std::size_t queued() const noexcept { return queue_.size(); }
    std::size_t running() const noexcept { return running_; }

private:
    std::deque<fleet_task> queue_;
    std::size_t running_ = 0;
};

/// What a combined task's failure makes of it: the parts to run again (the
/// members the failure names alone, the rest together; else two halves), or
/// none when the failure stands for every member. Never split: a failure
/// every entry would meet (failure_splits), nor an import whose outcome a
/// rerun could duplicate (it ended in a failing status without errors, or
/// behind an error document: it says nothing of what it imported).
/// `names`: per member, the names a failure may mention (services, folders,
/// version ids, destinations).
std::vector<std::vector<std::size_t>> parts_after(const migration_result& m, const std::vector<std::size_t>& members,
                                                  const std::vector<std::vector<std::string>>& names);

}  // namespace cspark::detail
