// The migration engine's vocabulary: what a flow is given (plan, policy,
// start), what it asks for (actions: a variant of small structs, one per
// kind of I/O), what comes back (events) and what observers see (notes).
#pragma once

#include <cspark/fleet.hpp>
#include <cspark/impex.hpp>
#include <cspark/job.hpp>

#include "impex/job_kind.hpp"

#include <boost/json/array.hpp>
#include <boost/json/value.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <type_traits>
#include <variant>
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
    /// intent, job_created, downloaded, timing: where the migration stands
    /// after this step, whole (the engine keeps it; see resume()).
    std::optional<migration_checkpoint> checkpoint;
};

/// What a flow asks the driver to do: one small struct per kind of I/O,
/// carrying everything the driver needs (it reads nothing else).
namespace act {
struct finish {};  ///< the flow ended: its outcome is in the state
struct acquire_slot {  ///< wait for the tenant's slot of this kind
    job_kind kind = job_kind::export_job;
};
struct post_export {  ///< POST export
    std::string cid;  ///< correlation id ("" = none)
};
struct post_import {  ///< POST an import of one package
    std::size_t package = 0;  ///< which of the flow's packages
    std::filesystem::path path;
    boost::json::array mappings;  ///< services_modify
    std::string cid;              ///< correlation id ("" = none)
};
struct describe {  ///< GET {kind}/status
    job_kind kind = job_kind::export_job;
};
struct check_status {  ///< GET {kind}/{id}/status
    job_kind kind = job_kind::export_job;
    std::string id;
};
struct sleep {  ///< wait this long
    milliseconds delay{0};
};
struct download {  ///< GET one of the export's files into its .part, from the bytes held
    std::size_t file = 0;      ///< which file (a new index starts a new .part)
    std::string url;
    std::string name;          ///< the file name in the destination directory
    bool from_start = false;   ///< drop the bytes held and fetch the file from byte 0
    bool md5 = false;          ///< the server's file_hash is an MD5: compute one beside the SHA-256
    bool server_name = false;  ///< the server's name for the file (Content-Disposition) may replace `name`
};
struct keep_file {  ///< the download is whole: check it (ZIP when unverified), rename it into place
    std::size_t file = 0;
    std::string name;
    bool verified = false;  ///< the server's hash matched
};
struct cancel_export {  ///< PATCH export/{id} cancelled, best effort
    std::string id;
};
struct discard {  ///< remove the packages this flow wrote
    std::vector<std::filesystem::path> paths;
};
}  // namespace act

using flow_op = std::variant<act::finish, act::acquire_slot, act::post_export, act::post_import, act::describe,
                             act::check_status, act::sleep, act::download, act::keep_file, act::cancel_export, act::discard>;

struct flow_action {
    flow_op op;
    std::optional<job_kind> release;  ///< before this action, give back the tenant's slot of this kind

    flow_action() = default;
    template <class Op>
        requires(!std::is_same_v<std::remove_cvref_t<Op>, flow_action> && std::is_constructible_v<flow_op, Op &&>)
    flow_action(Op&& op_) : op(std::forward<Op>(op_)) {}  // NOLINT: an action is any of its ops

    template <class Op>
    bool is() const {
        return std::holds_alternative<Op>(op);
    }
    template <class Op>
    const Op& as() const {
        return std::get<Op>(op);
    }
};

struct flow_event {
    enum class type { start, ok, failed, cancelled } what = type::start;
    clock_type::time_point now{};  ///< the injected clock when this happened
    std::chrono::system_clock::time_point wall{};  ///< the wall clock then (an intent's time in a checkpoint)
    error_code ec;                 ///< failed
    diagnostics diag;
    job_status job;                ///< ok after post_* / check_status / cancel_export
    boost::json::value describe;   ///< ok after describe
    downloaded_file file;          ///< ok after download (size, sha256; md5 in `md5`) / keep_file (path)
    std::string md5;
    std::uint64_t bytes_held = 0;  ///< failed download: bytes already in the .part
    std::optional<history_snapshot> history;  ///< when the flow reads history (reads_history())
};

}  // namespace cspark::detail
