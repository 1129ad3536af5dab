// The migration engine: a flow runs its machines in sequence (the export's
// POST and poll, the downloads, each package's import POST and poll), hands
// each event to the machine of its stage, and decides what an ended machine
// leads to; cancellation and the way out (cancel an abandoned export, discard
// packages, give the slot back) are the flow's.
#include "impex/engine.hpp"

#include "impex/codec.hpp"
#include "impex/policy.hpp"

#include "core/text.hpp"

namespace cspark::detail {
namespace json = boost::json;

namespace {

using stage = flow_state::stage;
using ev_type = flow_event::type;

step_env env_of(flow_state& st) { return {st.policy, st.notes}; }

void note(flow_state& st, flow_note::type what, job_kind kind, std::string id = {}, std::string status = {}) {
    st.notes.push_back(make_note(what, kind, std::move(id), std::move(status)));
}

// Gives the tenant's slot back with the next action.
flow_action releasing(flow_state& st, flow_action a) {
    a.release = st.holding;
    st.holding.reset();
    return a;
}

// ------------------------------------------------------------ the way out

// Once the outcome is known: cancel an export job nobody will wait for,
// discard packages that must not stay, finish; the slot goes back on the way.
flow_action wind_down(flow_state& st) {
    if (st.at == stage::cancel) {
        st.at = stage::discard;
        return releasing(st, act::cancel_export{st.export_job.id});
    }
    const auto& kept = st.files.kept();
    bool wrote_files = !st.files.files().empty();  // the downloads began: they fetch before anything else
    bool half_done = st.ec && st.plan.download && kept.size() < st.files.files().size();
    bool transient = !st.plan.keep_files;  // nothing resumes this flow: its packages go whatever the outcome
    if (st.at != stage::done && wrote_files && (half_done || transient)) {
        st.at = stage::done;
        act::discard d;
        for (const auto& f : kept)
            if (!f.path.empty()) d.paths.push_back(f.path);
        return releasing(st, std::move(d));
    }
    st.at = stage::done;
    return releasing(st, act::finish{});
}

flow_action end_with(flow_state& st, error_code ec, diagnostics diag, job_kind kind, const std::string& id) {
    st.ec = ec;
    st.diag = std::move(diag);
    if (ec) st.failed_in = kind;
    if (ec && ec != errc::cancelled) {
        auto n = make_note(flow_note::type::failed, kind, id);
        n.message = ec.message();
        st.notes.push_back(std::move(n));
    }
    // An export job the flow gives up on (or is cancelled during) may still run.
    // So may one whose status check was answered with an error document in
    // place of the job: the job's own state is not known from it.
    bool polling_export = st.at == stage::poll && st.step == job_kind::export_job;
    bool abandon = (polling_export || st.at == stage::cancel_lookup) && !st.export_job.id.empty() &&
                   (ec == errc::cancelled || ec == errc::poll_timeout || ec == errc::job_state_unknown ||
                    (ec == errc::job_failed && st.export_job.error_envelope));
    if (abandon && ec != errc::cancelled) st.diag.detail += "; the export job was cancelled (nothing waits for it)";
    st.at = abandon ? stage::cancel : stage::discard;
    return wind_down(st);
}

// ------------------------------------------------------------ the steps

flow_action begin_poll(flow_state& st, flow_event& ev, std::string id, bool once, milliseconds lag) {
    st.at = stage::poll;
    return st.poll.begin(env_of(st), st.step, std::move(id), ev.now, once, lag);
}

// A step begins: its POST (the tenant's slot first, in fleets).
flow_action begin_step(flow_state& st, flow_event& ev, job_kind kind) {
    st.step = kind;
    st.at = stage::post;
    const auto& s = st.start;
    post_plan p;
    p.kind = kind;
    p.take_slot = st.plan.use_slots && !st.holding;
    p.wait_out_conflicts = st.plan.wait_out_conflicts;
    if (kind == job_kind::export_job) {
        p.cid = s.export_cid;
        if (!p.cid.empty()) p.intent_age = s.export_intent_age;
    } else {
        p.cid = s.import_cid;
        if (st.package > 0 && !p.cid.empty()) p.cid += "-" + std::to_string(st.package + 1);
        if (st.package == 0 && !p.cid.empty()) p.intent_age = s.import_intent_age;
        p.package = st.package;
        p.path = st.packages[st.package];
        p.mappings = *st.services_modify;
    }
    return st.post.begin(env_of(st), std::move(p), ev.now);
}

flow_action created(flow_state& st, flow_event& ev, post_end made) {
    note(st, flow_note::type::job_created, st.step, made.job.id, made.job.status);
    std::string id = made.job.id;
    bool known = !made.job.status.empty();
    (st.step == job_kind::export_job ? st.export_job : st.import_job) = std::move(made.job);
    if (st.plan.stop_at_created) {
        st.at = stage::poll;
        if (known) return end_with(st, {}, {}, st.step, id);
        return begin_poll(st, ev, id, true, milliseconds(0));  // found by lookup: one look at it
    }
    return begin_poll(st, ev, id, false, made.lag);
}

flow_action on_post(flow_state& st, flow_event& ev) {
    auto r = st.post.on(env_of(st), ev);
    if (st.post.holds_slot() && !st.holding) st.holding = st.step;
    if (auto* next = std::get_if<flow_action>(&r)) return std::move(*next);
    auto& end = std::get<post_end>(r);
    if (end.ec) return end_with(st, end.ec, std::move(end.diag), st.step, {});
    return created(st, ev, std::move(end));
}

flow_action begin_imports(flow_state& st, flow_event& ev);

flow_action after_downloads(flow_state& st, flow_event& ev, step_answer<downloads_end> r) {
    if (auto* next = std::get_if<flow_action>(&r)) return std::move(*next);
    auto& end = std::get<downloads_end>(r);
    if (end.ec) return end_with(st, end.ec, std::move(end.diag), job_kind::export_job, st.export_job.id);
    for (const auto& f : st.files.kept()) st.packages.push_back(f.path);
    // The export is done once its packages are here, whether imports follow or not.
    note(st, flow_note::type::finished, job_kind::export_job, st.export_job.id, st.export_job.status);
    if (st.plan.import_job) return begin_imports(st, ev);
    return end_with(st, {}, {}, job_kind::export_job, st.export_job.id);
}

flow_action begin_downloads(flow_state& st, flow_event& ev, std::vector<export_file> files) {
    st.at = stage::download;
    const auto& p = st.plan;
    downloads_plan d{std::move(files), st.export_job.id, st.export_job.status, p.file_name, p.file_prefix, p.tenant};
    return after_downloads(st, ev, st.files.begin(env_of(st), std::move(d)));
}

flow_action export_polled(flow_state& st, flow_event& ev, poll_end end) {
    st.export_job = std::move(end.job);  // one copy of the document per job, not one per stage
    const std::string id = st.export_job.id;
    if (end.ec) return end_with(st, end.ec, std::move(end.diag), job_kind::export_job, id);
    if (st.plan.stop_at_created) return end_with(st, {}, {}, job_kind::export_job, id);
    if (!st.plan.download) {
        note(st, flow_note::type::finished, job_kind::export_job, id, st.export_job.status);
        return end_with(st, {}, {}, job_kind::export_job, id);
    }
    auto a = begin_downloads(st, ev, st.export_job.files);
    return st.holding == job_kind::export_job ? releasing(st, std::move(a)) : a;  // the tenant's export slot is free
}

// ------------------------------------------------------------ imports

flow_action begin_imports(flow_state& st, flow_event& ev) {
    st.package = 0;
    st.step = job_kind::import_job;
    const auto& s = st.start;
    if (s.import_intent_age && !s.import_cid.empty() && !st.services_modify) st.services_modify = s.services_modify;
    if (!st.services_modify) st.services_modify = default_mappings(st.export_job);
    diagnostics d;
    if (st.services_modify->empty())
        d.detail = "no destination: the export names no services; give at least one {source, target} mapping";
    else if (st.packages.empty())
        d.detail = "no package to import";
    if (!d.detail.empty()) return end_with(st, errc::invalid_argument, d, job_kind::import_job, {});
    return begin_step(st, ev, job_kind::import_job);
}

flow_action import_polled(flow_state& st, flow_event& ev, poll_end end) {
    auto r = import_result_of(std::move(end.job));
    if (!end.ec && r.partially_failed) {
        end.ec = errc::import_partially_failed;
        end.diag = partial_failure(r);
    }
    r.diag = end.diag;
    if (st.plan.stop_at_created) st.import_job = r.job;  // the initiate verb's result
    const std::string id = r.job.id, status = r.job.status;
    st.imports.push_back(std::move(r));
    if (end.ec) return end_with(st, end.ec, std::move(end.diag), job_kind::import_job, id);
    if (st.plan.stop_at_created) return end_with(st, {}, {}, job_kind::import_job, id);
    note(st, flow_note::type::finished, job_kind::import_job, id, status);
    if (++st.package < st.packages.size()) {
        auto a = begin_step(st, ev, job_kind::import_job);
        return st.holding == job_kind::import_job && !a.is<act::acquire_slot>() ? a : releasing(st, std::move(a));
    }
    return end_with(st, {}, {}, job_kind::import_job, id);
}

flow_action on_poll(flow_state& st, flow_event& ev) {
    auto r = st.poll.on(env_of(st), ev);
    if (auto* next = std::get_if<flow_action>(&r)) return std::move(*next);
    auto& end = std::get<poll_end>(r);
    return st.step == job_kind::export_job ? export_polled(st, ev, std::move(end)) : import_polled(st, ev, std::move(end));
}

// ------------------------------------------------------------ start and cancel

flow_action begin(flow_state& st, flow_event& ev) {
    const auto& s = st.start;
    st.packages = s.packages;
    st.services_modify = s.services_modify;
    if (!s.import_id.empty()) {
        st.step = job_kind::import_job;
        return begin_poll(st, ev, s.import_id, false, milliseconds(0));
    }
    if (!s.export_id.empty() && s.packages.empty()) {  // with the package already here, the export job is past
        st.export_job.id = s.export_id;
        return begin_poll(st, ev, s.export_id, false, milliseconds(0));
    }
    if (st.plan.export_job) return begin_step(st, ev, job_kind::export_job);
    if (st.plan.download && !s.files.empty()) return begin_downloads(st, ev, s.files);
    return begin_imports(st, ev);
}

// The caller cancelled: a POST export in flight may have made a job, found
// by its correlation id and cancelled; a job being polled is cancelled.
flow_action cancelled(flow_state& st) {
    st.cancelling = true;
    diagnostics d;
    d.detail = "cancelled";
    bool export_sent = st.at == stage::post && st.step == job_kind::export_job && st.post.sent();
    if (export_sent && !st.start.export_cid.empty()) {
        st.ec = errc::cancelled;
        st.diag = d;
        st.at = stage::cancel_lookup;
        return act::describe{job_kind::export_job};
    }
    return end_with(st, errc::cancelled, d, st.step, st.poll.state().id);
}

flow_action after_cancel_lookup(flow_state& st, flow_event& ev) {
    if (ev.what == ev_type::ok) {
        auto look = identify_job(read_describe(ev.describe, "export"), st.start.export_cid, milliseconds(0), st.policy.lookup_margin);
        if (look.what == job_lookup::verdict::found) st.export_job.id = look.id;
    }
    return end_with(st, errc::cancelled, st.diag, job_kind::export_job, st.export_job.id);
}

flow_action dispatch(flow_state& st, flow_event& ev) {
    if (ev.what == ev_type::cancelled && !st.cancelling && st.at != stage::done) return cancelled(st);
    switch (st.at) {
    case stage::begin: return begin(st, ev);
    case stage::post: return on_post(st, ev);
    case stage::poll: return on_poll(st, ev);
    case stage::download: return after_downloads(st, ev, st.files.on(env_of(st), ev));
    case stage::cancel_lookup: return after_cancel_lookup(st, ev);
    case stage::cancel:
    case stage::discard: return wind_down(st);
    case stage::done: break;
    }
    return act::finish{};
}

// Looks for the host's first durations cost timer wake-ups: they are spent
// on a fleet's chains (a pair with more groups than one), whose later jobs
// wait on this one, and only while a kind's duration is unknown.
void take_history(flow_state& st, const history_snapshot& h) {
    st.policy.expected_export = h.expected_export;
    st.policy.expected_import = h.expected_import;
    bool unknown = !h.expected_export || !h.expected_import;
    st.policy.history_look = unknown && h.chain > 1 ? std::max(st.policy.poll.interval / 4, milliseconds(10)) : milliseconds(0);
}

// A durable step moves the checkpoint on; its note carries the whole value.
void keep_checkpoint(flow_state& st, flow_note& n, std::chrono::system_clock::time_point wall) {
    auto& cp = st.checkpoint;
    bool exp = n.kind == job_kind::export_job;
    switch (n.what) {
    case flow_note::type::intent:
        (exp ? cp.export_correlation_id : cp.import_correlation_id) = n.status;
        (exp ? cp.export_intent : cp.import_intent) = wall;
        break;
    case flow_note::type::job_created: (exp ? cp.export_job : cp.import_job) = n.id; break;
    case flow_note::type::downloaded: cp.package = n.path; break;
    case flow_note::type::timing: break;
    default: return;
    }
    n.checkpoint = cp;
}

}  // namespace

flow_state make_flow(flow_plan plan, flow_policy policy, flow_start start) {
    flow_state st;
    st.plan = std::move(plan);
    st.policy = std::move(policy);
    st.start = std::move(start);
    st.history_live = st.policy.adaptive && !st.policy.expected_export && !st.policy.expected_import;
    return st;
}

bool reads_history(const flow_state& st) { return st.history_live; }
bool reads_chain(const flow_state& st) {
    return st.history_live && (!st.policy.expected_export || !st.policy.expected_import);
}

flow_action resume(flow_state& st, flow_event ev) {
    if (st.history_live && ev.history) take_history(st, *ev.history);
    const auto before = st.notes.size();
    const auto wall = ev.wall;
    auto next = dispatch(st, ev);
    for (auto i = before; i < st.notes.size(); ++i) keep_checkpoint(st, st.notes[i], wall);
    return next;
}

}  // namespace cspark::detail
