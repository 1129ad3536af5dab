// The migration engine's transitions. One handler per stage; the poll of a
// job is a small sub-machine shared by every stage that waits for one.
#include "impex/engine.hpp"

#include "impex/policy.hpp"

#include "core/text.hpp"

#include <boost/json/serialize.hpp>

namespace cspark::detail {
namespace json = boost::json;
using act = flow_action::type;
using stage = flow_state::stage;
using ev_type = flow_event::type;

namespace {

flow_action make(act what, std::string kind = {}, std::string id = {}) {
    flow_action a;
    a.what = what;
    a.kind = std::move(kind);
    a.id = std::move(id);
    return a;
}

flow_action sleep_for(milliseconds d) {
    auto a = make(act::sleep);
    a.delay = d;
    return a;
}

flow_note make_note(flow_note::type what, std::string kind, std::string id = {}, std::string status = {}) {
    flow_note n;
    n.what = what;
    n.kind = std::move(kind);
    n.id = std::move(id);
    n.status = std::move(status);
    return n;
}

void note(flow_state& st, flow_note::type what, std::string kind, std::string id = {}, std::string status = {}) {
    st.notes.push_back(make_note(what, std::move(kind), std::move(id), std::move(status)));
}

void note_retry(flow_state& st, const std::string& kind, milliseconds delay, std::string why) {
    auto n = make_note(flow_note::type::retry, kind);
    n.delay = delay;
    n.message = std::move(why);
    st.notes.push_back(std::move(n));
}

bool exporting(const flow_state& st) { return st.at <= stage::keep || st.at == stage::cancel_lookup; }
std::string kind_of(const flow_state& st) { return exporting(st) ? "export" : "import"; }
const std::string& cid_of(const flow_state& st) { return exporting(st) ? st.start.export_cid : st.start.import_cid; }

// Gives the tenant's slot back with the next action.
flow_action releasing(flow_state& st, flow_action a) {
    a.release = std::move(st.holding);
    st.holding.clear();
    return a;
}

// ------------------------------------------------------------ winding down

// Once the outcome is known: cancel an export job nobody will wait for,
// discard packages that must not stay, finish; the slot goes back on the way.
flow_action wind_down(flow_state& st) {
    if (st.at == stage::cancel) {
        st.at = stage::discard;
        return releasing(st, make(act::cancel_export, "export", st.export_job.id));
    }
    bool half_done = st.ec && st.plan.download && st.downloaded.size() < st.files.size();
    bool transient = !st.plan.keep_files && outcome_is_final(st.ec);
    if (st.at != stage::done && st.wrote_files && (half_done || transient)) {
        st.at = stage::done;
        return releasing(st, make(act::discard));
    }
    st.at = stage::done;
    return releasing(st, make(act::finish));
}

flow_action end_with(flow_state& st, error_code ec, diagnostics diag, const std::string& kind, const std::string& id) {
    st.ec = ec;
    st.diag = std::move(diag);
    if (ec) st.failed_in = kind;
    if (ec && ec != errc::cancelled) {
        auto n = make_note(flow_note::type::failed, kind, id);
        n.message = ec.message();
        st.notes.push_back(std::move(n));
    }
    // An export job the flow gives up on (or is cancelled during) may still run.
    bool abandon = (st.at == stage::export_poll || st.at == stage::cancel_lookup) && !st.export_job.id.empty() &&
                   (ec == errc::cancelled || ec == errc::poll_timeout || ec == errc::job_state_unknown);
    if (abandon && ec != errc::cancelled) st.diag.detail += "; the export job was cancelled (nothing waits for it)";
    st.at = abandon ? stage::cancel : stage::discard;
    return wind_down(st);
}

// ------------------------------------------------------------ polling a job

flow_action poll_begin(flow_state& st, std::string kind, std::string id, clock_type::time_point now, bool once = false) {
    st.poll = poll_state{};
    st.poll.kind = std::move(kind);
    st.poll.id = std::move(id);
    st.poll.started = now;
    st.poll.once = once;
    st.rng.seed(std::hash<std::string>{}(st.poll.id));
    return make(act::check_status, st.poll.kind, st.poll.id);
}

struct poll_end {
    error_code ec;
    diagnostics diag;
};

poll_end state_unknown(const poll_state& p) {
    poll_end e{errc::job_state_unknown, p.last_diag};
    e.diag.detail = "could not learn the state of " + p.kind + " job " + p.id + " (last check: " + p.last_failure.message() +
                    (p.last_diag.detail.empty() ? "" : "; " + p.last_diag.detail) +
                    "); it may still finish: check it with 'cspark-impex status " + p.id + " --kind " + p.kind + "'";
    return e;
}

std::optional<poll_end> judge(flow_state& st) {
    auto& p = st.poll;
    switch (p.job.state) {
    case job_state::succeeded: return poll_end{};
    case job_state::failed: {
        poll_end e{errc::job_failed, p.job.diag};
        e.diag.detail = p.kind + " job " + p.job.id + " ended '" + p.job.status + "' with errors: " +
                        excerpt(json::serialize(p.job.errors), 2048);
        return e;
    }
    case job_state::cancelled: {
        poll_end e{errc::job_cancelled, p.job.diag};
        e.diag.detail = p.kind + " job " + p.job.id + " was cancelled";
        return e;
    }
    case job_state::pending: break;
    }
    if (p.once) return poll_end{};
    return std::nullopt;
}

// After a check or the wait between checks: the next action, or the end.
// A check that fails in a way that may pass is asked again on the schedule:
// a failure to learn a job's state is not a failed job.
std::optional<poll_end> poll_on(flow_state& st, const flow_event& ev, flow_action& next) {
    auto& p = st.poll;
    if (st.last == act::sleep) {
        next = make(act::check_status, p.kind, p.id);
        return std::nullopt;
    }
    ++p.checks;
    if (ev.what == ev_type::ok) {
        p.job = ev.job;
        p.last_failure = {};
        if (p.job.status != p.last_status) {
            p.last_status = p.job.status;
            note(st, flow_note::type::status, p.kind, p.job.id, p.job.status);
        }
        if (auto end = judge(st)) return end;
    } else {
        p.last_failure = ev.ec;
        p.last_diag = ev.diag;
        if (p.once) return poll_end{};  // a job found by lookup: its id is what counts
        if (!status_check_may_pass(ev.ec)) return state_unknown(p);
    }
    auto elapsed = std::chrono::duration_cast<milliseconds>(ev.now - p.started);
    auto step = next_poll(st.policy.poll, p.checks, elapsed, std::uniform_real_distribution<double>(0, 1)(st.rng));
    if (step.what == poll_step::action::give_up) {
        if (p.last_failure) return state_unknown(p);
        poll_end e{errc::poll_timeout, p.job.diag};
        e.diag.detail = p.kind + " job " + p.id + " still '" + p.job.status + "' after " + std::to_string(p.checks) +
                        " checks in " + std::to_string(elapsed.count()) + " ms (" + std::string(step.reason) +
                        "); it may still finish: check it with 'cspark-impex status " + p.id + " --kind " + p.kind + "'";
        return e;
    }
    next = sleep_for(step.delay);
    return std::nullopt;
}

// ------------------------------------------------------------ POSTs

flow_action post(flow_state& st, const flow_event& ev) {
    bool exp = exporting(st);
    st.at = exp ? stage::export_post : stage::import_post;
    st.slept = false;
    st.post_began = ev.now;
    ++st.posts;
    auto a = make(exp ? act::post_export : act::post_import, kind_of(st));
    a.cid = cid_of(st);
    if (!exp) {
        a.file = st.package;
        if (st.package > 0 && !a.cid.empty()) a.cid += "-" + std::to_string(st.package + 1);
    }
    if (!a.cid.empty()) note(st, flow_note::type::intent, a.kind, {}, a.cid);
    return a;
}

// A step begins: take the tenant's slot (fleets), then POST.
flow_action begin_step(flow_state& st, const flow_event& ev, bool exp) {
    st.posts = 0;
    st.conflict_since.reset();
    st.at = exp ? stage::export_slot : stage::import_slot;
    if (st.plan.use_slots && st.holding.empty()) return make(act::acquire_slot, exp ? "export" : "import");
    return post(st, ev);
}

flow_action after_slot(flow_state& st, const flow_event& ev) {
    st.holding = kind_of(st);
    return post(st, ev);
}

flow_action created(flow_state& st, const flow_event& ev, job_status job) {
    bool exp = exporting(st);
    note(st, flow_note::type::job_created, kind_of(st), job.id, job.status);
    (exp ? st.export_job : st.import_job) = job;
    st.at = exp ? stage::export_poll : stage::import_poll;
    if (st.plan.stop_at_created) {
        if (!job.status.empty()) return end_with(st, {}, {}, kind_of(st), job.id);
        return poll_begin(st, kind_of(st), job.id, ev.now, true);  // found by lookup: one look at it
    }
    return poll_begin(st, kind_of(st), job.id, ev.now);
}

// A POST failed: wait out a running job (409), look for a job a lost answer
// may have made, or end.
flow_action post_failed(flow_state& st, const flow_event& ev) {
    const std::string kind = kind_of(st);
    if (ev.ec == errc::conflict && st.plan.wait_out_conflicts) {
        if (!st.conflict_since) st.conflict_since = ev.now;
        auto waited = std::chrono::duration_cast<milliseconds>(ev.now - *st.conflict_since);
        auto delay = std::min(st.policy.conflict_step * st.posts, st.policy.conflict_cap);
        auto deadline = st.policy.poll.deadline;
        if (deadline.count() > 0 && waited + delay > deadline) return end_with(st, ev.ec, ev.diag, kind, {});
        note_retry(st, kind, delay, "another " + kind + " job of the tenant is running");
        st.slept = true;
        --st.posts;  // waiting out another job is not a resend
        return sleep_for(delay);
    }
    if (cid_of(st).empty() || !maybe_reached(ev.ec, ev.diag)) return end_with(st, ev.ec, ev.diag, kind, {});
    st.post_ec = ev.ec;
    st.post_diag = ev.diag;
    st.at = exporting(st) ? stage::export_lookup : stage::import_lookup;
    return make(act::describe, kind);
}

// No job was made by the lost POST: send it again, a bounded number of times.
flow_action resend(flow_state& st) {
    const std::string kind = kind_of(st);
    if (st.posts >= st.policy.max_posts) return end_with(st, st.post_ec, st.post_diag, kind, {});
    auto delay = exporting(st) ? milliseconds(0) : st.policy.resend_step * st.posts;
    note_retry(st, kind, delay, kind + " request failed (" + st.post_ec.message() + ") and no job was made: sending again");
    st.at = exporting(st) ? stage::export_post : stage::import_post;
    st.slept = true;
    return sleep_for(delay);
}

flow_action after_post(flow_state& st, const flow_event& ev) {
    if (st.slept) return post(st, ev);  // the wait before sending again is over
    if (ev.what == ev_type::ok) return created(st, ev, ev.job);
    return post_failed(st, ev);
}

// ------------------------------------------------------------ lookups

flow_action unknown_import(flow_state& st, const std::string& why) {
    diagnostics d = st.post_diag;
    d.detail += std::string(d.detail.empty() ? "" : "; ") +
                (st.posts ? "the upload failed (" + st.post_ec.message() + ") and may have created an import job"
                          : std::string("an earlier upload may have created an import job")) +
                ": " + why + "; it was not sent again (correlation id " + cid_of(st) + ")";
    return end_with(st, errc::import_outcome_unknown, d, "import", {});
}

flow_action after_lookup(flow_state& st, const flow_event& ev) {
    bool exp = exporting(st);
    if (st.slept) return post(st, ev);
    if (ev.what != ev_type::ok) {
        if (exp) return st.posts ? resend(st) : begin_step(st, ev, true);  // an export only reads
        return unknown_import(st, "the tenant's import jobs could not be listed (" + ev.ec.message() + ")");
    }
    auto age = exp ? st.start.export_intent_age : st.start.import_intent_age;
    auto since = st.posts == 0 && age ? *age
                 : st.post_began      ? std::chrono::duration_cast<milliseconds>(ev.now - *st.post_began)
                                      : milliseconds(0);
    auto look = identify_job(read_describe(ev.describe, kind_of(st)), cid_of(st), since, st.policy.lookup_margin);
    if (look.what == job_lookup::verdict::found) {
        job_status j;
        j.id = look.id;
        j.kind = kind_of(st);
        return created(st, ev, std::move(j));
    }
    if (look.what == job_lookup::verdict::confirm && !exp) {
        st.candidates = look.candidates;
        st.matches.clear();
        st.undecided.clear();
        st.candidate = 0;
        st.at = stage::import_confirm;
        return poll_begin(st, "import", st.candidates[0], ev.now);
    }
    if (st.posts == 0) return begin_step(st, ev, exp);  // resumed from an intent: nothing was made
    return resend(st);
}

// Confirming candidates: one is ours when it ends with outputs that are
// exactly the mappings sent; a failed one imported nothing.
flow_action after_confirm(flow_state& st, const flow_event& ev) {
    flow_action next;
    auto ended = poll_on(st, ev, next);
    if (!ended) return next;
    const auto& id = st.candidates[st.candidate];
    if (!ended->ec && st.services_modify && outputs_match(st.poll.job.outputs, *st.services_modify)) st.matches.push_back(id);
    else if (ended->ec && ended->ec != errc::job_failed && ended->ec != errc::job_cancelled) st.undecided.push_back(id);
    if (++st.candidate < st.candidates.size()) return poll_begin(st, "import", st.candidates[st.candidate], ev.now);
    if (st.matches.size() == 1 && st.undecided.empty()) {
        job_status j;
        j.id = st.matches[0];
        j.kind = "import";
        return created(st, ev, std::move(j));
    }
    if (st.matches.empty() && st.undecided.empty()) return st.posts ? resend(st) : begin_step(st, ev, false);
    return unknown_import(st, std::to_string(st.matches.size()) + " finished job(s) match the mappings sent (" +
                                  joined(st.matches) + ") and " + std::to_string(st.undecided.size()) +
                                  " could not be checked (" + joined(st.undecided) + "); candidates: " + joined(st.candidates));
}

// ------------------------------------------------------------ downloads

flow_action begin_imports(flow_state& st, const flow_event& ev);

flow_action download(flow_state& st) {
    st.at = stage::download;
    st.wrote_files = true;
    auto a = make(act::download, "export", st.export_job.id);
    a.file = st.file;
    a.name = st.file_names[st.file];
    return a;
}

flow_action next_download(flow_state& st, const flow_event& ev) {
    if (st.file < st.files.size()) {
        st.resumes = 0;
        return download(st);
    }
    for (const auto& f : st.downloaded) st.packages.push_back(f.path);
    if (st.plan.import_job) return begin_imports(st, ev);
    note(st, flow_note::type::finished, "export", st.export_job.id, st.export_job.status);
    return end_with(st, {}, {}, "export", st.export_job.id);
}

// The file names of an export: one per link, never two alike.
void name_files(flow_state& st) {
    st.names.clear();
    for (std::size_t i = 0; i < st.files.size(); ++i) {
        std::string fallback = (st.export_job.id.empty() ? std::string("package") : st.export_job.id) + "-" + std::to_string(i) + ".zip";
        std::string name = st.plan.file_prefix.empty()
                               ? file_name_from_url(st.files[i].url, fallback)
                               : st.plan.file_prefix + "-" + st.export_job.id.substr(0, 8) + ".zip";
        st.file_names.push_back(unique_name(name, st.names));
    }
}

flow_action begin_downloads(flow_state& st, const flow_event& ev) {
    st.file = 0;
    st.downloaded.clear();
    if (st.plan.export_job) st.files = st.export_job.files;
    if (st.files.empty()) {
        diagnostics d;
        d.detail = "export job " + st.export_job.id + " finished '" + st.export_job.status + "' without files";
        return end_with(st, errc::no_files, d, "export", st.export_job.id);
    }
    st.file_names.clear();
    name_files(st);
    return next_download(st, ev);
}

flow_action after_download(flow_state& st, const flow_event& ev) {
    if (ev.what != ev_type::ok) {
        bool dropped = ev.ec == errc::connection_closed || ev.ec == errc::idle_timeout || ev.ec == errc::request_timeout;
        if (dropped && st.resumes < st.policy.max_resumes) {
            ++st.resumes;
            note_retry(st, "export", milliseconds(0), "resuming the download at byte " + std::to_string(ev.bytes_held));
            return download(st);
        }
        return end_with(st, ev.ec, ev.diag, "export", st.export_job.id);
    }
    auto expected = to_lower(trim(st.files[st.file].file_hash));
    bool hex = !expected.empty() && expected.find_first_not_of("0123456789abcdef") == std::string::npos;
    bool md5 = hex && expected.size() == 32, comparable = hex && (expected.size() == 32 || expected.size() == 64);
    if (comparable) {
        const auto& actual = md5 ? ev.md5 : ev.file.sha256;
        if (actual != expected) {
            diagnostics d = ev.diag;
            d.detail = "file_hash mismatch for " + mask_url(st.files[st.file].url) + ": expected " + expected + ", got " +
                       actual + "; the download was removed";
            return end_with(st, errc::hash_mismatch, d, "export", st.export_job.id);
        }
    }
    st.at = stage::keep;
    auto a = make(act::keep_file, "export", st.export_job.id);
    a.file = st.file;
    a.name = st.file_names[st.file];
    a.verified = comparable;
    return a;
}

flow_action after_keep(flow_state& st, const flow_event& ev) {
    if (ev.what != ev_type::ok) return end_with(st, ev.ec, ev.diag, "export", st.export_job.id);
    st.downloaded.push_back(ev.file);
    auto n = make_note(flow_note::type::downloaded, "export", st.export_job.id);
    n.path = ev.file.path;
    n.sha256 = ev.file.sha256;
    st.notes.push_back(std::move(n));
    ++st.file;
    return next_download(st, ev);
}

flow_action after_export_poll(flow_state& st, const flow_event& ev) {
    flow_action next;
    auto ended = poll_on(st, ev, next);
    if (!ended) return next;
    st.export_job = st.poll.job;
    if (st.export_job.id.empty()) st.export_job.id = st.poll.id;
    if (ended->ec) return end_with(st, ended->ec, ended->diag, "export", st.poll.id);
    if (st.plan.stop_at_created) return end_with(st, {}, {}, "export", st.poll.id);
    if (!st.plan.download) {
        note(st, flow_note::type::finished, "export", st.export_job.id, st.export_job.status);
        return end_with(st, {}, {}, "export", st.poll.id);
    }
    auto a = begin_downloads(st, ev);
    return st.holding == "export" ? releasing(st, std::move(a)) : a;  // the tenant's export slot is free
}

// ------------------------------------------------------------ imports

flow_action begin_imports(flow_state& st, const flow_event& ev) {
    st.package = 0;
    st.at = stage::import_slot;
    if (st.start.import_intent_age && !st.start.import_cid.empty() && !st.services_modify) st.services_modify = st.start.services_modify;
    if (!st.services_modify) st.services_modify = default_mappings(st.export_job);
    if (st.services_modify->empty()) {
        diagnostics d;
        d.detail = "no destination: the export names no services; give at least one {source, target} mapping";
        return end_with(st, errc::invalid_argument, d, "import", {});
    }
    if (st.packages.empty()) {
        diagnostics d;
        d.detail = "no package to import";
        return end_with(st, errc::invalid_argument, d, "import", {});
    }
    if (st.start.import_intent_age && !st.start.import_cid.empty()) {
        // An earlier run announced this import: look for its job before sending.
        st.posts = 0;
        st.at = stage::import_lookup;
        return make(act::describe, "import");
    }
    return begin_step(st, ev, false);
}

void summarize(const json::value& outputs, import_result& r) {
    if (!outputs.is_object()) return;
    auto read = [&](std::string_view key, std::vector<import_outcome>& into) {
        const auto* list = outputs.get_object().if_contains(key);
        if (!list || !list->is_array()) return;
        for (const auto& item : list->get_array())
            if (item.is_object()) {
                const auto& o = item.get_object();
                auto str = [&](std::string_view k) {
                    const auto* p = o.if_contains(k);
                    return p && p->is_string() ? std::string(p->get_string()) : std::string();
                };
                into.push_back({str("service_uri_source"), str("service_uri_destination"), str("status")});
            }
    };
    read("services", r.services);
    read("service_versions", r.versions);
}

flow_action after_import_poll(flow_state& st, const flow_event& ev) {
    flow_action next;
    auto ended = poll_on(st, ev, next);
    if (!ended) return next;
    import_result r;
    r.job = st.poll.job;
    if (r.job.id.empty()) r.job.id = st.poll.id;
    st.import_job = r.job;
    summarize(r.job.outputs, r);
    r.diag = ended->diag;
    st.imports.push_back(std::move(r));
    if (ended->ec) return end_with(st, ended->ec, ended->diag, "import", st.poll.id);
    if (st.plan.stop_at_created) return end_with(st, {}, {}, "import", st.poll.id);
    note(st, flow_note::type::finished, "import", st.poll.id, st.poll.job.status);
    if (++st.package < st.packages.size()) {
        auto a = begin_step(st, ev, false);
        return st.holding == "import" && a.what != act::acquire_slot ? a : releasing(st, std::move(a));
    }
    return end_with(st, {}, {}, "import", st.poll.id);
}

// ------------------------------------------------------------ start and cancel

flow_action begin(flow_state& st, const flow_event& ev) {
    const auto& s = st.start;
    st.packages = s.packages;
    st.services_modify = s.services_modify;
    if (!s.import_id.empty()) {
        st.at = stage::import_poll;
        return poll_begin(st, "import", s.import_id, ev.now);
    }
    if (!s.export_id.empty()) {
        st.export_job.id = s.export_id;
        st.at = stage::export_poll;
        return poll_begin(st, "export", s.export_id, ev.now);
    }
    if (st.plan.export_job) {
        st.at = stage::export_post;
        if (s.export_intent_age && !s.export_cid.empty()) {
            st.at = stage::export_lookup;
            return make(act::describe, "export");
        }
        return begin_step(st, ev, true);
    }
    if (st.plan.download && !s.files.empty()) {
        st.files = s.files;
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
    if (post_in_flight && !st.start.export_cid.empty() && st.posts > 0) {
        st.ec = errc::cancelled;
        st.diag = d;
        st.at = stage::cancel_lookup;
        return make(act::describe, "export");
    }
    return end_with(st, errc::cancelled, d, kind_of(st), st.poll.id);
}

flow_action after_cancel_lookup(flow_state& st, const flow_event& ev) {
    if (ev.what == ev_type::ok) {
        auto look = identify_job(read_describe(ev.describe, "export"), st.start.export_cid, milliseconds(0), st.policy.lookup_margin);
        if (look.what == job_lookup::verdict::found) st.export_job.id = look.id;
    }
    return end_with(st, errc::cancelled, st.diag, "export", st.export_job.id);
}

flow_action step(flow_state& st, const flow_event& ev) {
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

flow_state make_flow(flow_plan plan, flow_policy policy, flow_start start) {
    flow_state st;
    st.plan = std::move(plan);
    st.policy = std::move(policy);
    st.start = std::move(start);
    return st;
}

flow_action resume(flow_state& st, const flow_event& ev) {
    auto a = step(st, ev);
    st.last = a.what;
    return a;
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
