// What migrate_fleet tells its monitor (metrics.hpp), and a task's watch:
// the progress and checkpoints of one task (one entry or a combined job) as
// counters, each job and byte counted once whatever its members.
#pragma once

#include <cspark/client.hpp>
#include <cspark/fleet.hpp>
#include <cspark/metrics.hpp>
#include <cspark/progress.hpp>

#include <memory>
#include <mutex>
#include <vector>

namespace cspark {

// Fleets on their strands write, snapshot() reads from anywhere: every
// access holds `mu`.
struct fleet_monitor::impl {
    mutable std::mutex mu;
    fleet_metrics m;
    struct watched {
        client c;
        client_stats base;  // its counters when the fleet first saw it
    };
    std::vector<watched> clients;

    void watch(const client& c);
    void planned(std::size_t n);
    void started(std::size_t n);   // a task's members leave the queue
    void requeued(std::size_t n);  // a split task's members go back
    void ended(error_code ec, bool known);  // one running migration ended
    void never_started();          // one queued migration was cancelled
    void split();                  // a combined job was split
};

namespace detail {

/// One task's jobs and transfers. Shared by its progress and checkpoint
/// callbacks; end() settles jobs the task left in flight.
class task_watch {
public:
    explicit task_watch(fleet_monitor::impl& mon) : mon_(mon) {}
    void on_progress(const progress_event& ev);
    void on_checkpoint(const checkpoint_event& ev);
    void end();

private:
    struct job {
        bool in_flight = false;
        std::uint64_t last_bytes = 0;
    };
    job& of(std::string_view kind) { return kind == "import" ? import_ : export_; }
    fleet_monitor::impl& mon_;
    job export_, import_;
};

}  // namespace detail
}  // namespace cspark
