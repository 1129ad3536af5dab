// Pure decisions of the ImpEx flows that guard "never twice, never lost":
// which failures leave a job's state unknown, how a job an interrupted POST
// may have created is told apart from others, where a download may go and
// under which name. No sockets, no timers: the coroutines ask and then act.
#pragma once

#include <cspark/error.hpp>
#include <cspark/job.hpp>

#include <boost/json/array.hpp>
#include <boost/json/value.hpp>

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace cspark::detail {

using wall_clock = std::chrono::system_clock;

/// A status check that failed with `ec` may succeed if asked again: the
/// network, timeouts, 429, 5xx, or a body that is not the JSON expected
/// (a gateway's HTML page). 4xx other than 429, and cancellation, may not.
bool status_check_may_pass(error_code ec) noexcept;

/// A POST that failed with `ec` may have been acted on by the server (the
/// response was lost, or a gateway answered for it): look before resending.
bool maybe_reached(error_code ec, const diagnostics& d) noexcept;

/// Whether a flow that ended with `ec` has a known outcome. Not final: a
/// cancelled step, a job whose state could not be learned (job_state_unknown,
/// poll_timeout) and an upload that may have made a job (import_outcome_unknown):
/// those are resumed (by job id or correlation id), never started over.
bool outcome_is_final(error_code ec) noexcept;

/// "2025-03-01T10:05:12.440Z" (offsets +hh:mm accepted); nullopt otherwise.
std::optional<wall_clock::time_point> parse_iso_timestamp(std::string_view s) noexcept;

/// One job of a describe document (GET {kind}/status).
struct described_job {
    std::string id;
    std::string status;
    std::optional<wall_clock::time_point> created;
    bool in_progress = false;
    bool has_correlation = false;  ///< the item carries a correlation_id field (even null)
    std::string correlation_id;
};

struct describe_view {
    std::vector<described_job> jobs;
    std::optional<wall_clock::time_point> server_now;  ///< newest response_timestamp seen
    bool shows_correlation = false;  ///< some item carries correlation_id: the server reports them
};

/// Reads in_progress_{kind}s and recent_{kind}s; tolerant of missing fields.
describe_view read_describe(const boost::json::value& doc, std::string_view kind);

/// What describe says about the job a POST tagged `correlation_id` may have made.
struct job_lookup {
    enum class verdict {
        found,        ///< `id` carries our correlation id
        not_created,  ///< no job can be ours: sending again is safe
        confirm,      ///< describe shows no correlation ids: `candidates` (created after the
                      ///< POST began) must be confirmed by their outputs once they end
    } what = verdict::not_created;
    std::string id;
    std::vector<std::string> candidates;
};

/// `since_post_began`: local time from the start of the POST to the describe
/// response. The server's clock (response_timestamp) places the POST on its
/// own time line, so clock skew does not matter; `margin` absorbs timestamp
/// rounding. Without a server time no candidate is ruled out by time.
job_lookup identify_job(const describe_view& d, const std::string& correlation_id,
                        std::chrono::milliseconds since_post_began,
                        std::chrono::milliseconds margin = std::chrono::seconds(2));

/// "folder/service" of a service URI ("F/S[1.2]" -> "f/s"): lower-cased, no version selector.
std::string service_path(const std::string& uri);

/// The (source, destination) pairs of a finished import's outputs.services
/// equal those of the services_modify list that was sent (case-insensitive,
/// destination defaulting to source).
bool outputs_match(const boost::json::value& outputs, const boost::json::array& services_modify);

/// `name`, or `stem-1.ext`, `stem-2.ext`... the first not in `used`; added to it.
std::string unique_name(const std::string& name, std::set<std::string>& used);

/// A download link must be an absolute http(s) URL or a path on the API host
/// ("/..."); anything else (file:, ftp:, a bare word) is refused with `why`.
bool is_download_link(std::string_view url, std::string& why);

// ---- where status checks go

/// What is known when a check is planned.
struct poll_clues {
    std::optional<std::chrono::milliseconds> expected;  ///< the tenant's recent jobs of this kind
    std::optional<std::int64_t> process_time;           ///< the last status's process_time (running job)
    bool probing = false;  ///< adaptive checks, nothing known of the kind yet: learn the duration sooner
};

/// Growth of the waits while probing: each look at a job whose kind's
/// duration is unknown lands within about a tenth of its running time after
/// it ends (x1.5 lands a quarter late on average). Applied only when the
/// number of checks is unbounded (max_attempts = 0): a count of SDK
/// max_retries keeps the SDK schedule's reach.
inline constexpr double probe_growth = 1.2;

/// After `checks` status checks found the job running, `elapsed` since polling
/// began (the job's creation): with an expected duration, the next check goes
/// just after the expected end (+2 %), and past it waits grow with the overrun
/// (a tenth of the expected duration, or half the overrun, whichever is more);
/// without one, the SDK-like schedule (next_poll), growing by probe_growth when
/// probing with unbounded checks. Always within the
/// policy's bounds: at most max_interval a wait, max_attempts checks, the deadline.
poll_step plan_next_check(const poll_policy& p, int checks, std::chrono::milliseconds elapsed, const poll_clues& c,
                          double random01) noexcept;

/// A job whose kind's duration is unknown, while jobs of the other kind on
/// its host take `hint`: the wait from `elapsed` (since the job's creation)
/// to just after `hint` (+2 %), within max_interval and the deadline; none
/// when that moment has passed.
std::optional<std::chrono::milliseconds> wait_for_expected(const poll_policy& p, std::chrono::milliseconds hint,
                                                           std::chrono::milliseconds elapsed,
                                                           std::optional<std::int64_t> process_time) noexcept;

/// When a job expected to take `expected` is checked: just after it (+2 %,
/// at least 2 ms), so one check finds it ended.
std::chrono::milliseconds just_after(std::chrono::milliseconds expected) noexcept;

/// How long a job has run: the server's process_time (ms) when it agrees
/// with our own count (`elapsed` since its POST was answered: the server's
/// count starts a little earlier), else `elapsed`.
std::chrono::milliseconds running_time(std::chrono::milliseconds elapsed, std::optional<std::int64_t> process_time) noexcept;

/// A job's duration as the checks saw it: between the last check that found it
/// running and the first that found it ended (both since its POST was
/// answered); the server's process_time when it falls in that window, whose
/// end stretches by `lag`, the POST's round trip (the server counts from the
/// job's creation, somewhere in that trip). Its unit is not documented: a
/// value that does not fit is not trusted.
std::chrono::milliseconds observed_duration(std::chrono::milliseconds last_running, std::chrono::milliseconds seen_ended,
                                            std::int64_t process_time, std::chrono::milliseconds lag = {}) noexcept;
}  // namespace cspark::detail
