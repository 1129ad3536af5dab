// job_post: makes one job. The tenant's slot (fleets), the POST, the 409
// wait-out, the look-up of a job a lost answer may have made (by correlation
// id, or candidates confirmed by their outputs), and a bounded resend.
#include "impex/machines.hpp"

#include "impex/codec.hpp"
#include "impex/policy.hpp"

#include "core/text.hpp"

namespace cspark::detail {

flow_action job_post::begin(const step_env& env, post_plan plan, clock_type::time_point now) {
    plan_ = std::move(plan);
    s_ = post_state{};
    slot_ = false;
    if (plan_.intent_age && !plan_.cid.empty()) {
        // An earlier run announced this POST: look for its job before sending.
        at_ = phase::lookup;
        return act::describe{plan_.kind};
    }
    return start_over(env, now);
}

// Take the slot (once), then send.
flow_action job_post::start_over(const step_env& env, clock_type::time_point now) {
    s_ = post_state{};
    at_ = phase::slot;
    if (plan_.take_slot && !slot_) return act::acquire_slot{plan_.kind};
    return send(env, now);
}

flow_action job_post::send(const step_env& env, clock_type::time_point now) {
    at_ = phase::send;
    s_.waiting = false;
    s_.began = now;
    ++s_.sends;
    if (!plan_.cid.empty()) env.notes.push_back(make_note(flow_note::type::intent, plan_.kind, {}, plan_.cid));
    if (plan_.kind == job_kind::export_job) return act::post_export{plan_.cid};
    return act::post_import{plan_.package, plan_.path, plan_.mappings, plan_.cid};
}

// The wait before sending again (a resend, or another job's end).
flow_action job_post::wait(milliseconds d) {
    at_ = phase::send;
    s_.waiting = true;
    return act::sleep{d};
}

step_answer<post_end> job_post::made(flow_event& ev, job_status job) {
    post_end end;
    end.job = std::move(job);
    if (s_.began) end.lag = std::chrono::duration_cast<milliseconds>(ev.now - *s_.began);
    return end;
}

// A POST failed: wait out a running job (409), look for a job a lost answer
// may have made, or end.
step_answer<post_end> job_post::failed(const step_env& env, flow_event& ev) {
    const job_kind kind = plan_.kind;
    const auto& policy = env.policy;
    if (ev.ec == errc::conflict && plan_.wait_out_conflicts) {
        if (!s_.conflict_since) s_.conflict_since = ev.now;
        auto waited = std::chrono::duration_cast<milliseconds>(ev.now - *s_.conflict_since);
        auto delay = std::min(policy.conflict_step * s_.sends, policy.conflict_cap);
        auto deadline = policy.poll.deadline;
        if (deadline.count() > 0 && waited + delay > deadline) return post_end{ev.ec, ev.diag, {}, {}};
        note_retry(env.notes, kind, delay, "job_slot_busy", "another " + kind_name(kind) + " job of the tenant is running");
        --s_.sends;  // waiting out another job is not a resend
        return wait(delay);
    }
    if (plan_.cid.empty() || !maybe_reached(ev.ec, ev.diag)) return post_end{ev.ec, ev.diag, {}, {}};
    s_.ec = ev.ec;
    s_.diag = ev.diag;
    at_ = phase::lookup;
    return act::describe{kind};
}

// No job was made by the lost POST: send it again, a bounded number of times.
step_answer<post_end> job_post::resend(const step_env& env) {
    const job_kind kind = plan_.kind;
    if (s_.sends >= env.policy.max_posts) return post_end{s_.ec, s_.diag, {}, {}};
    auto delay = kind == job_kind::export_job ? milliseconds(0) : env.policy.resend_step * s_.sends;
    note_retry(env.notes, kind, delay, "request_not_received",
               kind_name(kind) + " request failed (" + s_.ec.message() + ") and no job was made: sending again");
    return wait(delay);
}

post_end job_post::unknown_import(const std::string& why) const {
    diagnostics d = s_.diag;
    d.detail += std::string(d.detail.empty() ? "" : "; ") +
                (s_.sends ? "the upload failed (" + s_.ec.message() + ") and may have created an import job"
                          : std::string("an earlier upload may have created an import job")) +
                ": " + why + "; it was not sent again (correlation id " + plan_.cid + ")";
    return post_end{errc::import_outcome_unknown, std::move(d), {}, {}};
}

step_answer<post_end> job_post::after_lookup(const step_env& env, flow_event& ev) {
    bool exp = plan_.kind == job_kind::export_job;
    if (ev.what != flow_event::type::ok) {
        if (exp) return s_.sends ? resend(env) : start_over(env, ev.now);  // an export only reads
        return unknown_import("the tenant's import jobs could not be listed (" + ev.ec.message() + ")");
    }
    auto since = s_.sends == 0 && plan_.intent_age ? *plan_.intent_age
                 : s_.began ? std::chrono::duration_cast<milliseconds>(ev.now - *s_.began)
                            : milliseconds(0);
    auto look = identify_job(read_describe(ev.describe, kind_name(plan_.kind)), plan_.cid, since, env.policy.lookup_margin);
    if (look.what == job_lookup::verdict::found) {
        job_status j;
        j.id = look.id;
        j.kind = kind_name(plan_.kind);
        return made(ev, std::move(j));
    }
    if (look.what == job_lookup::verdict::confirm && !exp) {
        confirm_.candidates = look.candidates;
        confirm_.matches.clear();
        confirm_.undecided.clear();
        confirm_.candidate = 0;
        if (!confirm_.poll) confirm_.poll = std::make_unique<job_poll>();
        at_ = phase::confirm;
        return confirm_.poll->begin(env, job_kind::import_job, confirm_.candidates[0], ev.now, false, milliseconds(0));
    }
    if (s_.sends == 0) return start_over(env, ev.now);  // resumed from an intent: nothing was made
    return resend(env);
}

// Confirming candidates: one is ours when it ends with outputs that are
// exactly the mappings sent; a failed one imported nothing.
step_answer<post_end> job_post::after_confirm(const step_env& env, flow_event& ev) {
    auto r = confirm_.poll->on(env, ev);
    if (auto* next = std::get_if<flow_action>(&r)) return std::move(*next);
    auto& ended = std::get<poll_end>(r);
    auto& c = confirm_;
    const auto& id = c.candidates[c.candidate];
    if (!ended.ec && outputs_match(ended.job.outputs, plan_.mappings)) c.matches.push_back(id);
    else if (ended.ec && ended.ec != errc::job_failed && ended.ec != errc::job_cancelled) c.undecided.push_back(id);
    if (++c.candidate < c.candidates.size())
        return c.poll->begin(env, job_kind::import_job, c.candidates[c.candidate], ev.now, false, milliseconds(0));
    if (c.matches.size() == 1 && c.undecided.empty()) {
        job_status j;
        j.id = c.matches[0];
        j.kind = "import";
        return made(ev, std::move(j));
    }
    if (c.matches.empty() && c.undecided.empty()) return s_.sends ? resend(env) : start_over(env, ev.now);
    return unknown_import(std::to_string(c.matches.size()) + " finished job(s) match the mappings sent (" + joined(c.matches) +
                          ") and " + std::to_string(c.undecided.size()) + " could not be checked (" + joined(c.undecided) +
                          "); candidates: " + joined(c.candidates));
}

step_answer<post_end> job_post::on(const step_env& env, flow_event& ev) {
    switch (at_) {
    case phase::slot:
        slot_ = true;
        return send(env, ev.now);
    case phase::send:
        if (s_.waiting) return send(env, ev.now);  // the wait before sending again is over
        if (ev.what == flow_event::type::ok) return made(ev, std::move(ev.job));
        return failed(env, ev);
    case phase::lookup: return after_lookup(env, ev);
    case phase::confirm: return after_confirm(env, ev);
    }
    return post_end{};
}

}  // namespace cspark::detail
