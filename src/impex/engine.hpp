// The migration engine: every decision of exp, imp, migrate, the fleet and
// batch, as a state machine with no I/O (in the manner of boost/redis's
// run_fsm): resume(state, event) -> action. The driver (driver.cpp) carries
// out the action and feeds back what came of it; it decides nothing. Time
// arrives with each event (the injected clock), so every branch is testable
// in microseconds.
#pragma once

#include <cspark/impex.hpp>
#include <cspark/job.hpp>

#include "impex/job_kind.hpp"

#include <boost/json/array.hpp>
#include <boost/json/value.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace cspark::detail {

using std::chrono::milliseconds;

/// Every policy number of a flow (defaults are the library's).
struct flow_policy {
    poll_policy poll;                      ///< status checks of one job
    int max_posts = 3;                     ///< sends of one POST whose answer was lost and made no job
    milliseconds resend_step{500};         ///< wait before resend k: k x this
    milliseconds conflict_step{500};       ///< 409 (a job of the tenant runs): wait k x this ...
    milliseconds conflict_cap{10000};      ///< ... at most this, within the poll deadline
    int max_resumes = 5;                   ///< Range resumes of one download
    int max_refetches = 2;                 ///< downloads again from byte 0 of a package that failed its
                                           ///< check (file_hash, or not a ZIP: a proxy's page answered 200)
    milliseconds lookup_margin{2000};      ///< describe timestamps: rounding allowance
    bool adaptive = true;                  ///< place checks by the expected durations below
    /// The tenants' recent jobs. Given here, they hold for the whole flow;
    /// else (adaptive) each event's `history` brings them as they are known.
    std::optional<milliseconds> expected_export, expected_import;
    /// While nothing is known of a job's kind, its waits are slept in looks
    /// this long (no request: a look at the next event's history), so the
    /// first job of the kind to end on the host places this one's check at
    /// once; 0 = waits are slept whole. Set from each event's history: on a
    /// fleet's chains (longer than one) max(poll.interval / 4, 10 ms).
    milliseconds history_look{0};
};

/// What the caller's job history (cspark::job_history) says as an event
/// happens: delivered with each event, as `now` is.
struct history_snapshot {
    std::optional<milliseconds> expected_export, expected_import;  ///< the tenants' (else their hosts') recent jobs
    int chain = 0;  ///< the length of the fleet chain this flow is on (0: not in a fleet)
};

/// What a flow does, fixed when it starts.
struct flow_plan {
    bool export_job = false;       ///< POST export, poll it
    bool download = false;         ///< download each file of the export
    bool import_job = false;       ///< POST an import of each package, poll it
    bool stop_at_created = false;  ///< end as soon as the job exists (initiate verbs)
    bool keep_files = true;        ///< false: discard the packages when the flow ends
    bool use_slots = false;        ///< hold the tenant's export/import slot from POST to the job's end
    bool wait_out_conflicts = true;  ///< 409 (a job of the tenant runs): wait and send again
    std::string file_prefix;       ///< "" = name packages after their links; else "{prefix}-{job8}.zip"
    std::string file_name;         ///< the download verb's name for its (first) file; "" = as above
    std::string tenant;            ///< the source tenant: "{tenant}-export-{job}.zip" for a link not ending in .zip
};

/// Where a flow starts when it resumes (a journal's checkpoint) or is given.
struct flow_start {
    std::string export_cid, import_cid;    ///< correlation ids (import: of the first package)
    std::optional<milliseconds> export_intent_age, import_intent_age;  ///< lookups: how long ago the POST began
    std::string export_id, import_id;      ///< jobs already made
    std::vector<std::filesystem::path> packages;  ///< packages already downloaded (imports)
    std::vector<export_file> files;        ///< download: the files (verb) when no export job is polled
    std::optional<boost::json::array> services_modify;  ///< the import's mappings; empty = from the export
};

/// A step an observer sees (progress, a journal). Intents come before their POST.
struct flow_note {
    enum class type { intent, job_created, status, retry, downloaded, finished, failed, timing } what = type::status;
    job_kind kind = job_kind::export_job;
    std::string id;            ///< job id (job_created, status, finished, failed)
    std::string status;        ///< job status / correlation id (intent) / retry: its reason code
    milliseconds delay{0};     ///< retry; timing: the job's duration
    std::string message;       ///< retry reason, failure
    std::filesystem::path path;  ///< downloaded
    std::string sha256;        ///< downloaded
    std::uint64_t size = 0;    ///< downloaded: bytes
};

struct flow_action {
    enum class type {
        acquire_slot,   ///< wait for the tenant's `kind` slot
        post_export,    ///< POST export with correlation id `cid`
        post_import,    ///< POST import of packages[file] with correlation id `cid`
        describe,       ///< GET {kind}/status
        check_status,   ///< GET {kind}/{id}/status
        sleep,          ///< wait `delay`
        download,       ///< GET files[file] into its .part (from the bytes it holds)
        keep_file,      ///< the download is whole: check it (ZIP when unverified) and rename it into place
        cancel_export,  ///< PATCH export/{id} cancelled, best effort
        discard,        ///< remove the packages this flow wrote
        finish,         ///< the flow ended: outcome in the state
    } what = type::finish;
    job_kind kind = job_kind::export_job;
    std::string id;
    std::string cid;
    std::size_t file = 0;
    milliseconds delay{0};
    bool verified = false;  ///< keep_file: the server's hash matched
    bool from_start = false;  ///< download: drop the bytes held and fetch the file from byte 0
    std::string name;       ///< download / keep_file: the file name in the destination directory
    bool md5 = false;       ///< download: the server's file_hash is an MD5: compute one beside the SHA-256
    bool server_name = false;  ///< download: the server's name for the file (Content-Disposition) may replace `name`
    std::optional<job_kind> release;  ///< before this action, give back the tenant's slot of this kind
};

struct flow_event {
    enum class type { start, ok, failed, cancelled } what = type::start;
    clock_type::time_point now{};  ///< the injected clock when this happened
    error_code ec;                 ///< failed
    diagnostics diag;
    job_status job;                ///< ok after post_* / check_status / cancel_export
    boost::json::value describe;   ///< ok after describe
    downloaded_file file;          ///< ok after download (size, sha256; md5 in `md5`) / keep_file (path)
    std::string md5;
    std::uint64_t bytes_held = 0;  ///< failed download: bytes already in the .part
    std::optional<history_snapshot> history;  ///< when the flow reads history (reads_history())
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

/// The POST of one step (export, or one package's import).
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
};

/// The export's files, downloaded one at a time.
struct download_state {
    std::vector<export_file> files;
    std::set<std::string> names;
    std::vector<std::string> file_names;  ///< one per file, never two alike
    std::size_t file = 0;                 ///< the one being downloaded
    int resumes = 0;                      ///< of the current file: Range resumes
    int refetches = 0;                    ///< of the current file: whole downloads again after a failed check
};

struct flow_state {
    flow_plan plan;
    flow_policy policy;
    flow_start start;

    enum class stage {
        begin, export_slot, export_post, export_lookup, export_poll, download, keep,
        import_slot, import_post, import_lookup, import_confirm, import_poll,
        cancel_lookup, cancel, discard, done,
    } at = stage::begin;
    job_kind step = job_kind::export_job;  ///< the kind of job the current step makes or awaits

    post_state post;  ///< the POST of the current step

    poll_state poll;
    std::mt19937_64 rng{1};

    confirm_state confirm;  ///< the candidates of a lost import POST

    // Export and downloads.
    job_status export_job;
    download_state dl;  ///< the export's files, one at a time
    std::vector<downloaded_file> downloaded;

    // Imports.
    std::vector<std::filesystem::path> packages;
    std::size_t package = 0;
    std::optional<boost::json::array> services_modify;
    job_status import_job;  ///< the import being made (initiate verbs: the result)
    std::vector<import_result> imports;

    bool history_live = false;  ///< expected durations come with each event (make_flow)
    std::optional<job_kind> holding;  ///< the tenant slot held
    bool cancelling = false;  ///< the caller cancelled: winding down
    bool wrote_files = false;

    // Outcome.
    error_code ec;
    diagnostics diag;
    std::optional<job_kind> failed_in;  ///< the step that failed
    std::vector<flow_note> notes;  ///< drained by the driver after each resume
};

/// Prepares a state: the plan, the policy, where it starts.
flow_state make_flow(flow_plan plan, flow_policy policy, flow_start start);

/// The engine: what to do next, given what came of the last action.
flow_action resume(flow_state& st, flow_event ev);

/// Whether events must bring a history snapshot (adaptive polling with no
/// durations given), and whether it needs the fleet chain's length (while a
/// duration is unknown).
bool reads_history(const flow_state& st);
bool reads_chain(const flow_state& st);

/// The services_modify of the services an export reports (every one to itself).
boost::json::array default_mappings(const job_status& exported);

/// The file name a link ends in (sanitised), or `fallback`.
std::string file_name_from_url(const std::string& url, const std::string& fallback);

}  // namespace cspark::detail
