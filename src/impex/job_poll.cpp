// job_poll: one job's status checks until it ends, placed by the policy's
// schedule and, when adaptive, by how long jobs of its kind take here.
#include "impex/machines.hpp"

#include "impex/codec.hpp"
#include "impex/policy.hpp"

#include "core/text.hpp"

#include <boost/json/serialize.hpp>

namespace cspark::detail {
namespace json = boost::json;

flow_note make_note(flow_note::type what, job_kind kind, std::string id, std::string status) {
    flow_note n;
    n.what = what;
    n.kind = kind;
    n.id = std::move(id);
    n.status = std::move(status);
    return n;
}

void note_retry(std::vector<flow_note>& notes, job_kind kind, milliseconds delay, std::string reason, std::string why) {
    auto n = make_note(flow_note::type::retry, kind);
    n.delay = delay;
    n.status = std::move(reason);
    n.message = std::move(why);
    notes.push_back(std::move(n));
}

std::optional<milliseconds> expected_of(const flow_policy& policy, job_kind kind) {
    return kind == job_kind::export_job ? policy.expected_export : policy.expected_import;
}

namespace {

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

}  // namespace

// The poll's two actions: a wait, or a check; the next event answers it.
flow_action job_poll::wait_for(milliseconds d) {
    p_.waiting = true;
    return act::sleep{d};
}

flow_action job_poll::check() {
    p_.waiting = false;
    return act::check_status{p_.kind, p_.id};
}

flow_action job_poll::begin(const step_env& env, job_kind kind, std::string id, clock_type::time_point now, bool once,
                            milliseconds lag) {
    p_ = poll_state{};
    p_.kind = kind;
    p_.id = std::move(id);
    p_.started = now;
    p_.once = once;
    p_.lag = lag;
    rng_.seed(std::hash<std::string>{}(p_.id));
    if (env.policy.adaptive && !once) p_.expected = expected_of(env.policy, kind);
    if (p_.expected) {
        // The tenant's jobs take about this long: the first look goes just after that.
        poll_clues c{p_.expected, std::nullopt};
        auto step = plan_next_check(env.policy.poll, 0, milliseconds(0), c, 0.5);
        if (step.what == poll_step::action::wait) return wait_for(step.delay);
    }
    return check();
}

// A wait slept in looks (nothing was known of the kind when it was planned):
// once a job of the kind has ended on the host, the check moves to just after
// that duration (at once, if that moment has passed since the last check);
// until then the wait goes on, a look at a time.
flow_action job_poll::look_for_history(const step_env& env, milliseconds elapsed) {
    milliseconds due = *p_.due;
    auto known = expected_of(env.policy, p_.kind);
    if (!known || known->count() <= 0) {
        if (elapsed < due) return wait_for(std::min(due - elapsed, env.policy.history_look));
        p_.due.reset();
        return check();
    }
    p_.expected = known;  // later checks plan with it too
    p_.due.reset();
    if (running_time(p_.last_running, p_.job.process_time) >= just_after(*known)) {
        // The last check already saw it running past that: no news for this wait.
        if (elapsed >= due) return check();
        return wait_for(due - elapsed);
    }
    auto wait = wait_for_expected(env.policy.poll, *known, elapsed, std::nullopt);
    if (!wait) return check();  // it should have ended since the last check
    return wait_for(*wait);
}

poll_end job_poll::state_unknown() const {
    poll_end e{errc::job_state_unknown, p_.last_diag, {}};
    e.diag.detail = "could not learn the state of " + kind_name(p_.kind) + " job " + p_.id + " (last check: " +
                    p_.last_failure.message() + (p_.last_diag.detail.empty() ? "" : "; " + p_.last_diag.detail) +
                    "); it may still finish: check it with 'cspark-impex status " + p_.id + " --kind " + kind_name(p_.kind) + "'";
    return e;
}

std::optional<poll_end> job_poll::judge() const {
    switch (p_.job.state) {
    case job_state::succeeded: return poll_end{};
    case job_state::failed: return poll_end{errc::job_failed, failure_of(p_.job, p_.kind), {}};
    case job_state::cancelled: {
        poll_end e{errc::job_cancelled, p_.job.diag, {}};
        e.diag.detail = kind_name(p_.kind) + " job " + p_.job.id + " was cancelled";
        return e;
    }
    case job_state::pending: break;
    }
    if (p_.once) return poll_end{};
    return std::nullopt;
}

// What a check found: the end of polling, or nullopt (ask again), with
// `running` set when the job was seen running.
std::optional<poll_end> job_poll::take_check(const step_env& env, flow_event& ev, milliseconds elapsed, bool& running) {
    ++p_.checks;
    if (ev.what != flow_event::type::ok) {
        p_.last_failure = ev.ec;
        p_.last_diag = ev.diag;
        if (p_.once) return poll_end{};  // a job found by lookup: its id is what counts
        if (!status_check_may_pass(ev.ec)) return state_unknown();
        return std::nullopt;
    }
    p_.job = std::move(ev.job);  // the event is spent
    p_.last_failure = {};
    if (p_.job.status != p_.last_status) {
        p_.last_status = p_.job.status;
        env.notes.push_back(make_note(flow_note::type::status, p_.kind, p_.job.id, p_.job.status));
    }
    if (auto end = judge()) {
        if (!p_.once && (p_.job.state == job_state::succeeded || p_.job.state == job_state::failed)) {
            // How long it took, for the next job of this kind at this tenant.
            auto n = make_note(flow_note::type::timing, p_.kind, p_.id);
            n.delay = observed_duration(p_.last_running, elapsed, p_.job.process_time, p_.lag);
            env.notes.push_back(std::move(n));
        }
        return end;
    }
    running = true;
    p_.last_running = elapsed;
    return std::nullopt;
}

poll_end job_poll::timed_out(milliseconds elapsed, std::string_view reason) const {
    if (p_.last_failure) return state_unknown();
    poll_end e{errc::poll_timeout, p_.job.diag, {}};
    bool unknown = !p_.job.status.empty() && !known_job_status(p_.job.status);
    e.diag.detail = kind_name(p_.kind) + " job " + p_.id + " still '" + p_.job.status + "'" +
                    (unknown ? " (a status this client does not know: it was polled as running)" : "") + " after " +
                    std::to_string(p_.checks) + " checks in " + std::to_string(elapsed.count()) + " ms (" + std::string(reason) +
                    "); it may still finish: check it with 'cspark-impex status " + p_.id + " --kind " + kind_name(p_.kind) + "'";
    return e;
}

// The wait before the next check: the schedule's, or sooner where jobs of
// the other kind on the host say this one would end; slept in looks while
// nothing is known of this kind (a fleet's chains).
flow_action job_poll::place_wait(const step_env& env, milliseconds delay, milliseconds elapsed,
                                 std::optional<std::int64_t> process_time) {
    if (!p_.expected && !p_.hinted) {
        // Nothing known of this kind yet, but jobs of the other kind on the
        // host took `hint`: one check where this one would end if it took
        // alike. The growing schedule goes on after it, so a hint that is
        // wrong costs one status call and never delays a check.
        auto hint = expected_of(env.policy, other_kind(p_.kind));
        auto wait = hint ? wait_for_expected(env.policy.poll, *hint, elapsed, process_time) : std::nullopt;
        if (wait && *wait < delay) {
            delay = *wait;
            p_.hinted = true;
        }
    }
    p_.due.reset();
    auto look = env.policy.history_look;
    if (!p_.expected && env.policy.adaptive && look.count() > 0 && delay > look) {
        p_.due = elapsed + delay;
        return wait_for(look);
    }
    return wait_for(delay);
}

// The end carries the job as last read (one copy of its document per job).
poll_end job_poll::ended(std::optional<poll_end> e) {
    e->job = std::move(p_.job);
    if (e->job.id.empty()) e->job.id = p_.id;
    return std::move(*e);
}

// A check that fails in a way that may pass is asked again on the schedule:
// a failure to learn a job's state is not a failed job.
step_answer<poll_end> job_poll::on(const step_env& env, flow_event& ev) {
    auto elapsed = std::chrono::duration_cast<milliseconds>(ev.now - p_.started);
    if (p_.waiting) return p_.due ? look_for_history(env, elapsed) : check();
    bool running = false;
    if (auto end = take_check(env, ev, elapsed, running)) return ended(std::move(end));
    // A job of this kind that ended meanwhile (this flow's or another's on
    // the host: the events bring the durations) places the checks from now on.
    const auto& policy = env.policy;
    if (!p_.expected && !p_.once && policy.adaptive) p_.expected = expected_of(policy, p_.kind);
    poll_clues clues{p_.expected, running ? std::optional<std::int64_t>(p_.job.process_time) : std::nullopt, policy.adaptive};
    auto step = plan_next_check(policy.poll, p_.checks, elapsed, clues, std::uniform_real_distribution<double>(0, 1)(rng_));
    if (step.what == poll_step::action::give_up) return ended(timed_out(elapsed, step.reason));
    return place_wait(env, step.delay, elapsed, clues.process_time);
}

}  // namespace cspark::detail
