// The migration engine: every decision of exp, imp, migrate, the fleet and
// batch, with no I/O (in the manner of boost/redis's run_fsm and
// boost/mysql's sansio algorithms): resume(state, event) -> action. A flow
// runs small machines in sequence (machines.hpp): the export's POST and poll,
// its downloads, then each package's import POST and poll. The driver
// (driver.cpp) carries out each action and feeds back what came of it; it
// decides nothing. Time arrives with each event (the injected clock), so
// every branch is testable in microseconds.
#pragma once

#include "impex/machines.hpp"

#include <boost/json/array.hpp>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace cspark::detail {

/// A flow: its plan, the machine of the step it is at, what it has made.
struct flow_state {
    flow_plan plan;
    flow_policy policy;
    flow_start start;

    enum class stage { begin, post, poll, download, cancel_lookup, cancel, discard, done } at = stage::begin;
    job_kind step = job_kind::export_job;  ///< the kind of job the current step makes or awaits

    job_post post;    ///< makes the current step's job
    job_poll poll;    ///< awaits it
    downloads files;  ///< the export's files

    job_status export_job;
    std::vector<std::filesystem::path> packages;
    std::size_t package = 0;  ///< the one being imported
    std::optional<boost::json::array> services_modify;
    job_status import_job;  ///< the import being made (initiate verbs: the result)
    std::vector<import_result> imports;

    bool history_live = false;  ///< expected durations come with each event (make_flow)
    std::optional<job_kind> holding;  ///< the tenant slot held
    bool cancelling = false;  ///< the caller cancelled: winding down

    /// Where the migration stands, whole: set from the checkpoint it
    /// resumes, updated at each durable step and carried by its note.
    migration_checkpoint checkpoint;

    // Outcome.
    error_code ec;
    diagnostics diag;
    std::optional<job_kind> failed_in;  ///< the step that failed
    std::vector<flow_note> notes;  ///< drained by the driver after each resume
};

/// Prepares a state: the plan, the policy, where it starts.
flow_state make_flow(flow_plan plan, flow_policy policy, flow_start start);

/// The engine: what to do next, given what came of the last action. Each
/// note of a durable step (intent, job_created, downloaded, timing) made
/// meanwhile carries the flow's whole checkpoint after it.
flow_action resume(flow_state& st, flow_event ev);

/// Whether events must bring a history snapshot (adaptive polling with no
/// durations given), and whether it needs the fleet chain's length (while a
/// duration is unknown).
bool reads_history(const flow_state& st);
bool reads_chain(const flow_state& st);

/// An import job's result: its per-service outcomes read from its outputs.
import_result import_result_of(job_status job);
/// An import that closed with failed entries: each named with its reason.
diagnostics partial_failure(const import_result& r);

/// The services_modify of the services an export reports (every one to itself).
boost::json::array default_mappings(const job_status& exported);

}  // namespace cspark::detail
