// The migration engine's job steps: POSTs (with the 409 wait-out and the
// look-up of a job a lost answer may have made), confirming candidates, and
// the poll of one job.
#include "impex/engine_steps.hpp"

#include "impex/codec.hpp"
#include "impex/policy.hpp"

#include "core/text.hpp"

#include <boost/json/serialize.hpp>

namespace cspark::detail::steps {
namespace json = boost::json;

// ------------------------------------------------------------ polling a job

namespace {

// What the I/O loop last learned of how long jobs of `kind` take here.
std::optional<milliseconds> expected_of(const flow_state& st, job_kind kind) {
    return kind == job_kind::export_job ? st.policy.expected_export : st.policy.expected_import;
}

// The poll's two actions: a wait, or a check; the next event answers it.
flow_action wait_for(poll_state& p, milliseconds d) {
    p.waiting = true;
    return sleep_for(d);
}

flow_action check(poll_state& p) {
    p.waiting = false;
    return make(act::check_status, p.kind, p.id);
}

// A wait slept in looks (nothing was known of the kind when it was planned):
// once a job of the kind has ended on the host, the check moves to just after
// that duration (at once, if that moment has passed since the last check);
// until then the wait goes on, a look at a time.
flow_action look_for_history(flow_state& st, milliseconds elapsed) {
    auto& p = st.poll;
    milliseconds due = *p.due;
    auto known = expected_of(st, p.kind);
    if (!known || known->count() <= 0) {
        if (elapsed < due) return wait_for(p, std::min(due - elapsed, st.policy.history_look));
        p.due.reset();
        return check(p);
    }
    p.expected = known;  // later checks plan with it too
    p.due.reset();
    if (running_time(p.last_running, p.job.process_time) >= just_after(*known)) {
        // The last check already saw it running past that: no news for this wait.
        if (elapsed >= due) return check(p);
        return wait_for(p, due - elapsed);
    }
    auto wait = wait_for_expected(st.policy.poll, *known, elapsed, std::nullopt);
    if (!wait) return check(p);  // it should have ended since the last check
    return wait_for(p, *wait);
}

}  // namespace

flow_action poll_begin(flow_state& st, job_kind kind, std::string id, clock_type::time_point now, bool once) {
    st.poll = poll_state{};
    st.poll.kind = kind;
    st.poll.id = std::move(id);
    st.poll.started = now;
    st.poll.once = once;
    st.rng.seed(std::hash<std::string>{}(st.poll.id));
    if (st.policy.adaptive && !once)
        st.poll.expected = expected_of(st, st.poll.kind);
    if (st.poll.expected) {
        // The tenant's jobs take about this long: the first look goes just after that.
        poll_clues c{st.poll.expected, std::nullopt};
        auto step = plan_next_check(st.policy.poll, 0, milliseconds(0), c, 0.5);
        if (step.what == poll_step::action::wait) return wait_for(st.poll, step.delay);
    }
    return check(st.poll);
}

poll_end state_unknown(const poll_state& p) {
    poll_end e{errc::job_state_unknown, p.last_diag};
    e.diag.detail = "could not learn the state of " + kind_name(p.kind) + " job " + p.id + " (last check: " + p.last_failure.message() +
                    (p.last_diag.detail.empty() ? "" : "; " + p.last_diag.detail) +
                    "); it may still finish: check it with 'cspark-impex status " + p.id + " --kind " + kind_name(p.kind) + "'";
    return e;
}

// What a failed job says, for people and programs: the server's code and
// message (of an error document in place of the job, or of its first error)
// beside the job's status and its errors, quoted (bounded, masked).
diagnostics failure_of(const job_status& j, job_kind k) {
    const std::string kind = kind_name(k);
    diagnostics d = j.diag;
    auto errors = mask_links(excerpt(json::serialize(j.errors), 2048));
    if (j.error_envelope) {
        d.detail = "the status check of " + kind + " job " + j.id + " was answered " +
                   std::to_string(d.http_status ? d.http_status : 200) + " with an error in place of the job: " +
                   (d.api_code.empty() ? std::string("Error") : d.api_code) + (d.api_message.empty() ? "" : ": " + d.api_message);
        return d;
    }
    if (d.api_code.empty() && d.api_message.empty())
        if (auto first = read_messages(j.errors); !first.empty()) {
            d.api_code = first.front().code;
            d.api_message = first.front().message;
        }
    d.detail = kind + " job " + j.id + " ended '" + j.status + "'" + (has_errors(j.errors) ? " with errors: " + errors : "");
    return d;
}

std::optional<poll_end> judge(flow_state& st) {
    auto& p = st.poll;
    switch (p.job.state) {
    case job_state::succeeded: return poll_end{};
    case job_state::failed: return poll_end{errc::job_failed, failure_of(p.job, p.kind)};
    case job_state::cancelled: {
        poll_end e{errc::job_cancelled, p.job.diag};
        e.diag.detail = kind_name(p.kind) + " job " + p.job.id + " was cancelled";
        return e;
    }
    case job_state::pending: break;
    }
    if (p.once) return poll_end{};
    return std::nullopt;
}

namespace {

// What a check found: the end of polling, or nullopt (ask again), with
// `running` set when the job was seen running.
std::optional<poll_end> take_check(flow_state& st, flow_event& ev, milliseconds elapsed, bool& running) {
    auto& p = st.poll;
    ++p.checks;
    if (ev.what != ev_type::ok) {
        p.last_failure = ev.ec;
        p.last_diag = ev.diag;
        if (p.once) return poll_end{};  // a job found by lookup: its id is what counts
        if (!status_check_may_pass(ev.ec)) return state_unknown(p);
        return std::nullopt;
    }
    p.job = std::move(ev.job);  // the event is spent
    p.last_failure = {};
    if (p.job.status != p.last_status) {
        p.last_status = p.job.status;
        note(st, flow_note::type::status, p.kind, p.job.id, p.job.status);
    }
    if (auto end = judge(st)) {
        if (!p.once && (p.job.state == job_state::succeeded || p.job.state == job_state::failed)) {
            // How long it took, for the next job of this kind at this tenant.
            auto n = make_note(flow_note::type::timing, p.kind, p.id);
            n.delay = observed_duration(p.last_running, elapsed, p.job.process_time, p.lag);
            st.notes.push_back(std::move(n));
        }
        return end;
    }
    running = true;
    p.last_running = elapsed;
    return std::nullopt;
}

poll_end timed_out(const poll_state& p, milliseconds elapsed, std::string_view reason) {
    if (p.last_failure) return state_unknown(p);
    poll_end e{errc::poll_timeout, p.job.diag};
    bool unknown = !p.job.status.empty() && !known_job_status(p.job.status);
    e.diag.detail = kind_name(p.kind) + " job " + p.id + " still '" + p.job.status + "'" +
                    (unknown ? " (a status this client does not know: it was polled as running)" : "") + " after " +
                    std::to_string(p.checks) + " checks in " + std::to_string(elapsed.count()) + " ms (" + std::string(reason) +
                    "); it may still finish: check it with 'cspark-impex status " + p.id + " --kind " + kind_name(p.kind) + "'";
    return e;
}

// The wait before the next check: the schedule's, or sooner where jobs of
// the other kind on the host say this one would end; slept in looks while
// nothing is known of this kind (a fleet's chains).
flow_action place_wait(flow_state& st, milliseconds delay, milliseconds elapsed, std::optional<std::int64_t> process_time) {
    auto& p = st.poll;
    if (!p.expected && !p.hinted) {
        // Nothing known of this kind yet, but jobs of the other kind on the
        // host took `hint`: one check where this one would end if it took
        // alike. The growing schedule goes on after it, so a hint that is
        // wrong costs one status call and never delays a check.
        auto hint = expected_of(st, other_kind(p.kind));
        auto wait = hint ? wait_for_expected(st.policy.poll, *hint, elapsed, process_time) : std::nullopt;
        if (wait && *wait < delay) {
            delay = *wait;
            p.hinted = true;
        }
    }
    p.due.reset();
    if (!p.expected && st.policy.adaptive && st.policy.history_look.count() > 0 && delay > st.policy.history_look) {
        p.due = elapsed + delay;
        return wait_for(p, st.policy.history_look);
    }
    return wait_for(p, delay);
}

}  // namespace

// After a check or the wait between checks: the next action, or the end.
// A check that fails in a way that may pass is asked again on the schedule:
// a failure to learn a job's state is not a failed job.
std::optional<poll_end> poll_on(flow_state& st, flow_event& ev, flow_action& next) {
    auto& p = st.poll;
    auto elapsed = std::chrono::duration_cast<milliseconds>(ev.now - p.started);
    if (p.waiting) {
        next = p.due ? look_for_history(st, elapsed) : check(p);
        return std::nullopt;
    }
    bool running = false;
    if (auto end = take_check(st, ev, elapsed, running)) return end;
    // A job of this kind that ended meanwhile (this flow's or another's on
    // the host: the events bring the durations) places the checks from now on.
    if (!p.expected && !p.once && st.policy.adaptive)
        p.expected = expected_of(st, p.kind);
    poll_clues clues{p.expected, running ? std::optional<std::int64_t>(p.job.process_time) : std::nullopt,
                     st.policy.adaptive};
    auto step = plan_next_check(st.policy.poll, p.checks, elapsed, clues, std::uniform_real_distribution<double>(0, 1)(st.rng));
    if (step.what == poll_step::action::give_up) return timed_out(p, elapsed, step.reason);
    next = place_wait(st, step.delay, elapsed, clues.process_time);
    return std::nullopt;
}

// ------------------------------------------------------------ POSTs

flow_action post(flow_state& st, flow_event& ev) {
    bool exp = st.step == job_kind::export_job;
    st.at = exp ? stage::export_post : stage::import_post;
    st.post.waiting = false;
    st.post.began = ev.now;
    ++st.post.sends;
    auto a = make(exp ? act::post_export : act::post_import, st.step);
    a.cid = cid_of(st);
    if (!exp) {
        a.file = st.package;
        if (st.package > 0 && !a.cid.empty()) a.cid += "-" + std::to_string(st.package + 1);
    }
    if (!a.cid.empty()) note(st, flow_note::type::intent, a.kind, {}, a.cid);
    return a;
}

// The wait before sending again (a resend, or another job's end).
flow_action post_wait(flow_state& st, milliseconds delay) {
    st.post.waiting = true;
    return sleep_for(delay);
}

// A step begins: take the tenant's slot (fleets), then POST.
flow_action begin_step(flow_state& st, flow_event& ev, job_kind kind) {
    st.step = kind;
    st.post = post_state{};
    st.at = kind == job_kind::export_job ? stage::export_slot : stage::import_slot;
    if (st.plan.use_slots && !st.holding) return make(act::acquire_slot, kind);
    return post(st, ev);
}

flow_action after_slot(flow_state& st, flow_event& ev) {
    st.holding = st.step;
    return post(st, ev);
}

flow_action created(flow_state& st, flow_event& ev, job_status job) {
    bool exp = st.step == job_kind::export_job;
    note(st, flow_note::type::job_created, st.step, job.id, job.status);
    std::string id = job.id;
    bool known = !job.status.empty();
    (exp ? st.export_job : st.import_job) = std::move(job);
    st.at = exp ? stage::export_poll : stage::import_poll;
    if (st.plan.stop_at_created) {
        if (known) return end_with(st, {}, {}, st.step, id);
        return poll_begin(st, st.step, id, ev.now, true);  // found by lookup: one look at it
    }
    auto a = poll_begin(st, st.step, id, ev.now);
    if (st.post.began) st.poll.lag = std::chrono::duration_cast<milliseconds>(ev.now - *st.post.began);
    return a;
}

// A POST failed: wait out a running job (409), look for a job a lost answer
// may have made, or end.
flow_action post_failed(flow_state& st, flow_event& ev) {
    const job_kind kind = st.step;
    if (ev.ec == errc::conflict && st.plan.wait_out_conflicts) {
        if (!st.post.conflict_since) st.post.conflict_since = ev.now;
        auto waited = std::chrono::duration_cast<milliseconds>(ev.now - *st.post.conflict_since);
        auto delay = std::min(st.policy.conflict_step * st.post.sends, st.policy.conflict_cap);
        auto deadline = st.policy.poll.deadline;
        if (deadline.count() > 0 && waited + delay > deadline) return end_with(st, ev.ec, ev.diag, kind, {});
        note_retry(st, kind, delay, "job_slot_busy", "another " + kind_name(kind) + " job of the tenant is running");
        --st.post.sends;  // waiting out another job is not a resend
        return post_wait(st, delay);
    }
    if (cid_of(st).empty() || !maybe_reached(ev.ec, ev.diag)) return end_with(st, ev.ec, ev.diag, kind, {});
    st.post.ec = ev.ec;
    st.post.diag = ev.diag;
    st.at = kind == job_kind::export_job ? stage::export_lookup : stage::import_lookup;
    return make(act::describe, kind);
}

// No job was made by the lost POST: send it again, a bounded number of times.
flow_action resend(flow_state& st) {
    const job_kind kind = st.step;
    if (st.post.sends >= st.policy.max_posts) return end_with(st, st.post.ec, st.post.diag, kind, {});
    bool exp = kind == job_kind::export_job;
    auto delay = exp ? milliseconds(0) : st.policy.resend_step * st.post.sends;
    note_retry(st, kind, delay, "request_not_received",
               kind_name(kind) + " request failed (" + st.post.ec.message() + ") and no job was made: sending again");
    st.at = exp ? stage::export_post : stage::import_post;
    return post_wait(st, delay);
}

flow_action after_post(flow_state& st, flow_event& ev) {
    if (st.post.waiting) return post(st, ev);  // the wait before sending again is over
    if (ev.what == ev_type::ok) return created(st, ev, std::move(ev.job));
    return post_failed(st, ev);
}

// ------------------------------------------------------------ lookups

flow_action unknown_import(flow_state& st, const std::string& why) {
    diagnostics d = st.post.diag;
    d.detail += std::string(d.detail.empty() ? "" : "; ") +
                (st.post.sends ? "the upload failed (" + st.post.ec.message() + ") and may have created an import job"
                          : std::string("an earlier upload may have created an import job")) +
                ": " + why + "; it was not sent again (correlation id " + cid_of(st) + ")";
    return end_with(st, errc::import_outcome_unknown, d, job_kind::import_job, {});
}

flow_action after_lookup(flow_state& st, flow_event& ev) {
    bool exp = st.step == job_kind::export_job;
    if (st.post.waiting) return post(st, ev);
    if (ev.what != ev_type::ok) {
        if (exp) return st.post.sends ? resend(st) : begin_step(st, ev, st.step);  // an export only reads
        return unknown_import(st, "the tenant's import jobs could not be listed (" + ev.ec.message() + ")");
    }
    auto age = exp ? st.start.export_intent_age : st.start.import_intent_age;
    auto since = st.post.sends == 0 && age ? *age
                 : st.post.began      ? std::chrono::duration_cast<milliseconds>(ev.now - *st.post.began)
                                      : milliseconds(0);
    auto look = identify_job(read_describe(ev.describe, kind_name(st.step)), cid_of(st), since, st.policy.lookup_margin);
    if (look.what == job_lookup::verdict::found) {
        job_status j;
        j.id = look.id;
        j.kind = kind_name(st.step);
        return created(st, ev, std::move(j));
    }
    if (look.what == job_lookup::verdict::confirm && !exp) {
        st.confirm.candidates = look.candidates;
        st.confirm.matches.clear();
        st.confirm.undecided.clear();
        st.confirm.candidate = 0;
        st.at = stage::import_confirm;
        return poll_begin(st, job_kind::import_job, st.confirm.candidates[0], ev.now);
    }
    if (st.post.sends == 0) return begin_step(st, ev, st.step);  // resumed from an intent: nothing was made
    return resend(st);
}

// Confirming candidates: one is ours when it ends with outputs that are
// exactly the mappings sent; a failed one imported nothing.
flow_action after_confirm(flow_state& st, flow_event& ev) {
    flow_action next;
    auto ended = poll_on(st, ev, next);
    if (!ended) return next;
    const auto& id = st.confirm.candidates[st.confirm.candidate];
    if (!ended->ec && st.services_modify && outputs_match(st.poll.job.outputs, *st.services_modify)) st.confirm.matches.push_back(id);
    else if (ended->ec && ended->ec != errc::job_failed && ended->ec != errc::job_cancelled) st.confirm.undecided.push_back(id);
    if (++st.confirm.candidate < st.confirm.candidates.size()) return poll_begin(st, job_kind::import_job, st.confirm.candidates[st.confirm.candidate], ev.now);
    if (st.confirm.matches.size() == 1 && st.confirm.undecided.empty()) {
        job_status j;
        j.id = st.confirm.matches[0];
        j.kind = "import";
        return created(st, ev, std::move(j));
    }
    if (st.confirm.matches.empty() && st.confirm.undecided.empty()) return st.post.sends ? resend(st) : begin_step(st, ev, job_kind::import_job);
    return unknown_import(st, std::to_string(st.confirm.matches.size()) + " finished job(s) match the mappings sent (" +
                                  joined(st.confirm.matches) + ") and " + std::to_string(st.confirm.undecided.size()) +
                                  " could not be checked (" + joined(st.confirm.undecided) + "); candidates: " + joined(st.confirm.candidates));
}

}  // namespace cspark::detail::steps
