// The migration engine: start, cancellation, the way out, and the dispatch
// of each event to the handler of the stage it answers.
#include "impex/engine_steps.hpp"
#include "impex/codec.hpp"

#include "impex/policy.hpp"

#include "core/text.hpp"

#include <boost/json/serialize.hpp>

namespace cspark::detail::steps {
namespace json = boost::json;

flow_action make(act what, job_kind kind, std::string id) {
    flow_action a;
    a.what = what;
    a.kind = kind;
    a.id = std::move(id);
    return a;
}

flow_action sleep_for(milliseconds d) {
    auto a = make(act::sleep);
    a.delay = d;
    return a;
}

flow_note make_note(flow_note::type what, job_kind kind, std::string id, std::string status) {
    flow_note n;
    n.what = what;
    n.kind = kind;
    n.id = std::move(id);
    n.status = std::move(status);
    return n;
}

void note(flow_state& st, flow_note::type what, job_kind kind, std::string id, std::string status) {
    st.notes.push_back(make_note(what, kind, std::move(id), std::move(status)));
}

void note_retry(flow_state& st, job_kind kind, milliseconds delay, std::string reason, std::string why) {
    auto n = make_note(flow_note::type::retry, kind);
    n.delay = delay;
    n.status = std::move(reason);
    n.message = std::move(why);
    st.notes.push_back(std::move(n));
}

const std::string& cid_of(const flow_state& st) {
    return st.step == job_kind::export_job ? st.start.export_cid : st.start.import_cid;
}

// Gives the tenant's slot back with the next action.
flow_action releasing(flow_state& st, flow_action a) {
    a.release = st.holding;
    st.holding.reset();
    return a;
}

// ------------------------------------------------------------ winding down

// Once the outcome is known: cancel an export job nobody will wait for,
// discard packages that must not stay, finish; the slot goes back on the way.
flow_action wind_down(flow_state& st) {
    if (st.at == stage::cancel) {
        st.at = stage::discard;
        return releasing(st, make(act::cancel_export, job_kind::export_job, st.export_job.id));
    }
    bool half_done = st.ec && st.plan.download && st.downloaded.size() < st.dl.files.size();
    bool transient = !st.plan.keep_files;  // nothing resumes this flow: its packages go whatever the outcome
    if (st.at != stage::done && st.wrote_files && (half_done || transient)) {
        st.at = stage::done;
        return releasing(st, make(act::discard));
    }
    st.at = stage::done;
    return releasing(st, make(act::finish));
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
    bool abandon = (st.at == stage::export_poll || st.at == stage::cancel_lookup) && !st.export_job.id.empty() &&
                   (ec == errc::cancelled || ec == errc::poll_timeout || ec == errc::job_state_unknown ||
                    (ec == errc::job_failed && st.export_job.error_envelope));
    if (abandon && ec != errc::cancelled) st.diag.detail += "; the export job was cancelled (nothing waits for it)";
    st.at = abandon ? stage::cancel : stage::discard;
    return wind_down(st);
}

namespace {

// ------------------------------------------------------------ start and cancel

flow_action begin(flow_state& st, flow_event& ev) {
    const auto& s = st.start;
    st.packages = s.packages;
    st.services_modify = s.services_modify;
    if (!s.import_id.empty()) {
        st.at = stage::import_poll;
        st.step = job_kind::import_job;
        return poll_begin(st, job_kind::import_job, s.import_id, ev.now);
    }
    if (!s.export_id.empty() && s.packages.empty()) {  // with the package already here, the export job is past
        st.export_job.id = s.export_id;
        st.at = stage::export_poll;
        return poll_begin(st, job_kind::export_job, s.export_id, ev.now);
    }
    if (st.plan.export_job) {
        st.at = stage::export_post;
        if (s.export_intent_age && !s.export_cid.empty()) {
            st.at = stage::export_lookup;
            return make(act::describe, job_kind::export_job);
        }
        return begin_step(st, ev, job_kind::export_job);
    }
    if (st.plan.download && !s.files.empty()) {
        st.dl.files = s.files;
        st.at = stage::download;
        return begin_downloads(st, ev);
    }
    return begin_imports(st, ev);
}

// The caller cancelled: a POST export in flight may have made a job, found
// by its correlation id and cancelled; a job being polled is cancelled.
flow_action cancelled(flow_state& st) {
    st.cancelling = true;
    diagnostics d;
    d.detail = "cancelled";
    bool post_in_flight = st.at == stage::export_post || st.at == stage::export_lookup;
    if (post_in_flight && !st.start.export_cid.empty() && st.post.sends > 0) {
        st.ec = errc::cancelled;
        st.diag = d;
        st.at = stage::cancel_lookup;
        return make(act::describe, job_kind::export_job);
    }
    return end_with(st, errc::cancelled, d, st.step, st.poll.id);
}

flow_action after_cancel_lookup(flow_state& st, flow_event& ev) {
    if (ev.what == ev_type::ok) {
        auto look = identify_job(read_describe(ev.describe, "export"), st.start.export_cid, milliseconds(0), st.policy.lookup_margin);
        if (look.what == job_lookup::verdict::found) st.export_job.id = look.id;
    }
    return end_with(st, errc::cancelled, st.diag, job_kind::export_job, st.export_job.id);
}

flow_action step(flow_state& st, flow_event& ev) {
    if (ev.what == ev_type::cancelled && !st.cancelling && st.at != stage::done) return cancelled(st);
    switch (st.at) {
    case stage::begin: return begin(st, ev);
    case stage::export_slot:
    case stage::import_slot: return after_slot(st, ev);
    case stage::export_post:
    case stage::import_post: return after_post(st, ev);
    case stage::export_lookup:
    case stage::import_lookup: return after_lookup(st, ev);
    case stage::import_confirm: return after_confirm(st, ev);
    case stage::export_poll: return after_export_poll(st, ev);
    case stage::download: return after_download(st, ev);
    case stage::keep: return after_keep(st, ev);
    case stage::import_poll: return after_import_poll(st, ev);
    case stage::cancel_lookup: return after_cancel_lookup(st, ev);
    case stage::cancel:
    case stage::discard: return wind_down(st);
    case stage::done: break;
    }
    return make(act::finish);
}

}  // namespace
}  // namespace cspark::detail::steps

namespace cspark::detail {
namespace json = boost::json;

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

namespace {

// Looks for the host's first durations cost timer wake-ups: they are spent
// on a fleet's chains (a pair with more groups than one), whose later jobs
// wait on this one, and only while a kind's duration is unknown.
void take_history(flow_state& st, const history_snapshot& h) {
    st.policy.expected_export = h.expected_export;
    st.policy.expected_import = h.expected_import;
    bool unknown = !h.expected_export || !h.expected_import;
    st.policy.history_look = unknown && h.chain > 1 ? std::max(st.policy.poll.interval / 4, milliseconds(10)) : milliseconds(0);
}

}  // namespace

flow_action resume(flow_state& st, flow_event ev) {
    if (st.history_live && ev.history) take_history(st, *ev.history);
    return steps::step(st, ev);
}

json::array default_mappings(const job_status& exported) {
    std::vector<std::string> services;
    if (exported.outputs.is_object())
        if (const auto* list = exported.outputs.get_object().if_contains("services"); list && list->is_array())
            for (const auto& s : list->get_array())
                if (s.is_object())
                    if (const auto* src = s.get_object().if_contains("service_uri_source"); src && src->is_string())
                        services.emplace_back(src->get_string());
    error_code ec;
    std::string why;
    auto out = services_modify(services, ec, why);
    return out ? std::move(*out) : json::array{};
}

std::string file_name_from_url(const std::string& url, const std::string& fallback) {
    std::string path = url.substr(0, url.find_first_of("?#"));
    auto slash = path.rfind('/');
    std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
    std::string out;
    for (char ch : name) out += (std::isalnum(static_cast<unsigned char>(ch)) || ch == '.' || ch == '-' || ch == '_') ? ch : '_';
    if (out.empty() || out == "." || out == ".." || out.size() > 200) out = fallback;
    return out;
}

}  // namespace cspark::detail
