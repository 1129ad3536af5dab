// The small machines a flow is made of. Each owns its state and answers each
// event with the next action or its end (`step_answer<End>`), with no I/O:
//   job_poll   polls one job until it ends (job_poll.cpp);
//   job_post   makes one job: the tenant's slot, the POST, the 409 wait-out,
//              the look-up of a job a lost answer may have made, confirming
//              candidates, the bounded resend (job_post.cpp);
//   downloads  fetches an export's files: names, Range resumes, hashes,
//              refetches, keeping each file (downloads.cpp).
// An answer is `step_answer<End>`: the next action, or the machine's end.
// The flow (engine.cpp) runs them in sequence; each is tested on its own.
#pragma once

#include "impex/flow.hpp"

#include <memory>
#include <random>
#include <set>
#include <variant>

namespace cspark::detail {

/// What a machine reads from its flow: the policy (history updates it as
/// events come) and where its notes go.
struct step_env {
    const flow_policy& policy;
    std::vector<flow_note>& notes;
};

/// A machine's answer to an event: the next action, or its end.
template <class End>
using step_answer = std::variant<flow_action, End>;

// ------------------------------------------------------------ job_poll

struct poll_end {
    error_code ec;  ///< none: the job succeeded (or a one-look poll ended)
    diagnostics diag;
    job_status job;  ///< the last status read; its id is the job's
};

/// One job being polled until it ends.
struct poll_state {
    job_kind kind = job_kind::export_job;
    std::string id;
    bool waiting = false;  ///< the action out is a wait (else a check): what the next event answers
    int checks = 0;
    clock_type::time_point started{};
    std::string last_status;
    error_code last_failure;
    diagnostics last_diag;
    job_status job;
    bool once = false;  ///< one look only (a job found by lookup)
    std::optional<milliseconds> expected;  ///< how long jobs of this kind take at this tenant
    milliseconds last_running{0};          ///< when a check last found it running (since started)
    bool hinted = false;                   ///< the other kind's duration has placed one check
    milliseconds lag{0};                   ///< the round trip of the POST that made the job (0: found otherwise)
    std::optional<milliseconds> due;       ///< a wait slept in looks: when its check is due (since started)
};

class job_poll {
public:
    /// Starts polling job `id` at `now`; `once`: one look only; `lag`: the
    /// round trip of the POST that made it (its duration is measured from it).
    flow_action begin(const step_env& env, job_kind kind, std::string id, clock_type::time_point now, bool once,
                      milliseconds lag);
    /// After a check or the wait between checks: the next action, or the end.
    step_answer<poll_end> on(const step_env& env, flow_event& ev);
    const poll_state& state() const { return p_; }

private:
    flow_action wait_for(milliseconds d);
    flow_action check();
    flow_action look_for_history(const step_env& env, milliseconds elapsed);
    flow_action place_wait(const step_env& env, milliseconds delay, milliseconds elapsed, std::optional<std::int64_t> process_time);
    std::optional<poll_end> take_check(const step_env& env, flow_event& ev, milliseconds elapsed, bool& running);
    std::optional<poll_end> judge() const;
    poll_end state_unknown() const;
    poll_end timed_out(milliseconds elapsed, std::string_view reason) const;
    poll_end ended(std::optional<poll_end> e);

    poll_state p_;
    std::mt19937_64 rng_{1};
};

// ------------------------------------------------------------ job_post

/// The POST of one step (the export, or one package's import).
struct post_state {
    int sends = 0;  ///< sent so far (a wait for another job's end is not a send)
    std::optional<clock_type::time_point> began, conflict_since;
    error_code ec;  ///< a send whose answer was lost
    diagnostics diag;
    bool waiting = false;  ///< the action out is the wait before sending again
};

/// Confirming the candidates of a lost import POST (describe without
/// correlation ids): each polled to its end, ours when its outputs are the
/// mappings sent.
struct confirm_state {
    std::vector<std::string> candidates, matches, undecided;
    std::size_t candidate = 0;  ///< the one being polled
    std::unique_ptr<job_poll> poll;  ///< made when needed: rare, and a poll holds a generator
};

/// What one POST is to do.
struct post_plan {
    job_kind kind = job_kind::export_job;
    std::string cid;                 ///< this POST's correlation id ("" = none: sent once, nothing looked up)
    bool take_slot = false;          ///< take the tenant's slot of `kind` before sending
    bool wait_out_conflicts = true;  ///< 409 (a job of the tenant runs): wait and send again
    std::optional<milliseconds> intent_age;  ///< an earlier run announced this POST that long ago: look first
    std::size_t package = 0;         ///< imports: which package
    std::filesystem::path path;      ///< imports: the package
    boost::json::array mappings;     ///< imports: services_modify (sent, and matched when confirming)
};

struct post_end {
    error_code ec;  ///< none: the job exists
    diagnostics diag;
    job_status job;       ///< the job made (found by a look-up: its id only)
    milliseconds lag{0};  ///< from the send that made it to its answer (0: not sent here)
};

class job_post {
public:
    flow_action begin(const step_env& env, post_plan plan, clock_type::time_point now);
    step_answer<post_end> on(const step_env& env, flow_event& ev);
    const post_state& state() const { return s_; }
    /// The tenant's slot was taken (the flow holds it until the job's end).
    bool holds_slot() const { return slot_; }
    /// A send left: a job may exist.
    bool sent() const { return s_.sends > 0; }

private:
    enum class phase { slot, send, lookup, confirm } at_ = phase::send;
    flow_action start_over(const step_env& env, clock_type::time_point now);
    flow_action send(const step_env& env, clock_type::time_point now);
    flow_action wait(milliseconds d);
    step_answer<post_end> failed(const step_env& env, flow_event& ev);
    step_answer<post_end> resend(const step_env& env);
    step_answer<post_end> after_lookup(const step_env& env, flow_event& ev);
    step_answer<post_end> after_confirm(const step_env& env, flow_event& ev);
    step_answer<post_end> made(flow_event& ev, job_status job);
    post_end unknown_import(const std::string& why) const;

    post_plan plan_;
    post_state s_;
    confirm_state confirm_;
    bool slot_ = false;
};

// ------------------------------------------------------------ downloads

/// What the downloads are to do.
struct downloads_plan {
    std::vector<export_file> files;
    std::string job_id;     ///< the export job ("" = the download verb: none)
    std::string job_status;  ///< for the message when there are no files
    std::string file_name;   ///< the first file's name, given; "" = from its link
    std::string file_prefix;  ///< "" = name packages after their links; else "{prefix}-{job8}.zip"
    std::string tenant;       ///< "{tenant}-export-{job}.zip" for a link not ending in .zip
};

struct downloads_end {
    error_code ec;  ///< none: every file is kept
    diagnostics diag;
};

/// The export's files, downloaded one at a time.
struct download_state {
    std::vector<std::string> file_names;  ///< one per file, never two alike
    std::size_t file = 0;                 ///< the one being downloaded
    int resumes = 0;                      ///< of the current file: Range resumes
    int refetches = 0;                    ///< of the current file: whole downloads again after a failed check
    bool keeping = false;                 ///< the action out is keep_file
};

class downloads {
public:
    step_answer<downloads_end> begin(const step_env& env, downloads_plan plan);
    step_answer<downloads_end> on(const step_env& env, flow_event& ev);
    const download_state& state() const { return s_; }
    const std::vector<export_file>& files() const { return plan_.files; }
    /// The files kept so far (all of them once it ended well).
    const std::vector<downloaded_file>& kept() const { return kept_; }
    std::vector<downloaded_file> take_kept() { return std::move(kept_); }

private:
    flow_action fetch(bool from_start);
    std::optional<flow_action> refetch(const step_env& env, const error_code& ec, const diagnostics& diag);
    step_answer<downloads_end> next();
    step_answer<downloads_end> after_fetch(const step_env& env, flow_event& ev);
    step_answer<downloads_end> after_keep(const step_env& env, flow_event& ev);
    void name_files();

    downloads_plan plan_;
    download_state s_;
    std::vector<downloaded_file> kept_;
};

// Shared by the machines and the flow (engine.cpp).
flow_note make_note(flow_note::type what, job_kind kind, std::string id = {}, std::string status = {});
void note_retry(std::vector<flow_note>& notes, job_kind kind, milliseconds delay, std::string reason, std::string why);
/// The file name a link ends in (sanitised), or `fallback`.
std::string file_name_from_url(const std::string& url, const std::string& fallback);
/// The expected duration of jobs of `kind`, as the policy knows it now.
std::optional<milliseconds> expected_of(const flow_policy& policy, job_kind kind);

}  // namespace cspark::detail
