// Internal to the migration engine: the steps its stages share, split over
// engine.cpp (start, cancel, winding down, dispatch), engine_jobs.cpp (POSTs,
// lookups, polling a job) and engine_files.cpp (downloads, imports).
#pragma once

#include "impex/engine.hpp"

#include <optional>
#include <string>

namespace cspark::detail::steps {

using act = flow_action::type;
using stage = flow_state::stage;
using ev_type = flow_event::type;

flow_action make(act what, job_kind kind = job_kind::export_job, std::string id = {});
flow_action sleep_for(milliseconds d);
flow_note make_note(flow_note::type what, job_kind kind, std::string id = {}, std::string status = {});
void note(flow_state& st, flow_note::type what, job_kind kind, std::string id = {}, std::string status = {});
void note_retry(flow_state& st, job_kind kind, milliseconds delay, std::string reason, std::string why);
/// The correlation id of the current step's POST.
const std::string& cid_of(const flow_state& st);
/// Gives the tenant's slot back with the next action.
flow_action releasing(flow_state& st, flow_action a);

/// The outcome is known: notes, then the way out (cancel an abandoned export, discard, finish).
flow_action end_with(flow_state& st, error_code ec, diagnostics diag, job_kind kind, const std::string& id);
flow_action wind_down(flow_state& st);

// Polling a job: begin, then feed each event until it ends.
struct poll_end {
    error_code ec;
    diagnostics diag;
};
flow_action poll_begin(flow_state& st, job_kind kind, std::string id, clock_type::time_point now, bool once = false);
std::optional<poll_end> poll_on(flow_state& st, flow_event& ev, flow_action& next);

// POSTs and lookups (engine_jobs.cpp).
flow_action begin_step(flow_state& st, flow_event& ev, job_kind kind);
flow_action after_slot(flow_state& st, flow_event& ev);
flow_action after_post(flow_state& st, flow_event& ev);
flow_action after_lookup(flow_state& st, flow_event& ev);
flow_action after_confirm(flow_state& st, flow_event& ev);

// Downloads and imports (engine_files.cpp).
flow_action begin_downloads(flow_state& st, flow_event& ev);
flow_action after_download(flow_state& st, flow_event& ev);
flow_action after_keep(flow_state& st, flow_event& ev);
flow_action after_export_poll(flow_state& st, flow_event& ev);
flow_action begin_imports(flow_state& st, flow_event& ev);
flow_action after_import_poll(flow_state& st, flow_event& ev);

}  // namespace cspark::detail::steps
