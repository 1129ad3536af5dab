// Fault injection rules: which calls of which route misbehave, and how.
// Set from flags, a JSON file, or PUT /_emulator/faults at run time.
#pragma once

#include <boost/json/value.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace cspark::emu {

/// What a rule does.
enum class fault_kind {
    status,               ///< answer this HTTP status (before any action, unless after_action)
    reset,                ///< reset the connection after the action: the answer is lost
    reset_mid_body,       ///< reset after `after_bytes` of the body
    slow_body,            ///< throttle the body to `bytes_per_second`
    delay,                ///< wait `delay` before the status line
    job_fail,             ///< the job ends with errors
    job_never_finishes,   ///< the job stays in progress
    job_no_files,         ///< an export closes without files
    expire_link,          ///< the download link has expired
    job_no_hash,          ///< the export lists its file without file_hash
    job_same_file_names,  ///< two links ending in one file name
    range_wrong_bytes,    ///< a Range request is answered from byte 0
    link_scheme,          ///< the export's link is file:///...
    body,                 ///< answer `status` with `body` as `content_type` (before the action, or after it
                          ///< with after_action): malformed or truncated JSON, a proxy's HTML page
    job_wrong_hash,       ///< the export lists a file_hash its package does not have
    error_in_200,         ///< answer 200 {"status":"Error","errorCode":code,"message":message} in place of
                          ///< the route's answer (before the action, or after it with after_action)
    job_status,           ///< the job ends with status `job_status` ("Error", "failed", "closed_by_timeout",
                          ///< an unknown word...): errors stay null unless job_fail fires too
    job_warnings,         ///< the job closes with warnings (`warnings_as`: strings or objects)
    service_failed,       ///< an import closes without errors, its first service (and its versions)
                          ///< `service_status` ("failed") with a message
    date_skew,            ///< the answer's Date header is `skew_s` seconds off (a server whose clock is wrong)
};

std::string_view to_string(fault_kind k) noexcept;
/// nullopt for an unknown name.
std::optional<fault_kind> fault_kind_of(std::string_view name) noexcept;

/// Routes: token, export.create, export.status, export.cancel, export.describe,
/// import.create, import.status, import.describe, download, or "any".
struct fault_rule {
    std::string route = "any";
    std::string tenant;          ///< "" = every tenant
    fault_kind kind = fault_kind::status;
    int status = 503;            ///< for kind = status
    bool after_action = false;   ///< status: the route acts first, then this status replaces its
                                 ///< answer (a gateway timing out on a request the server did)
    double retry_after = -1;     ///< seconds to wait, said with a 429; < 0 = none
    std::string retry_after_as = "x-retry-after";  ///< how: "x-retry-after" (Spark's, seconds), "seconds"
                                                   ///< (Retry-After: 2) or "date" (Retry-After: an HTTP date, with Date)
    double probability = 1.0;    ///< used when `nth` is empty
    std::vector<std::uint64_t> nth;  ///< 1-based matching calls that fire ("the 3rd")
    std::optional<std::uint64_t> times;  ///< fire at most this often
    std::uint64_t bytes_per_second = 0;  ///< slow_body
    std::chrono::milliseconds delay{0};  ///< delay
    std::uint64_t after_bytes = 0;       ///< reset_mid_body
    std::string body;                    ///< body: the answer's bytes
    std::string content_type = "application/json";  ///< body
    std::string code = "INTERNAL_SERVER_ERROR";     ///< error_in_200: errorCode
    std::string message = "Internal Server Error";  ///< error_in_200: message
    std::string job_status = "Error";               ///< job_status: the status the job ends with
    std::string errors_as = "list";                 ///< job_fail: errors as a "list", an "object" or a "string"
    std::string warnings_as = "strings";            ///< job_warnings: "strings" or "objects"
    std::string service_status = "failed";          ///< service_failed: the failed entries' status
    double skew_s = 0;                              ///< date_skew: seconds added to the Date header

    std::uint64_t seen = 0;   ///< matching calls so far
    std::uint64_t fired = 0;
};

class fault_set {
public:
    /// {"seed": 1, "rules": [{...}]}; throws std::invalid_argument naming the field.
    void load(const boost::json::value& doc);
    void clear() { rules_.clear(); }
    boost::json::value to_json() const;
    /// Counts this call against matching rules; returns those that fire.
    std::vector<const fault_rule*> fire(const std::string& route, const std::string& tenant);

private:
    std::vector<fault_rule> rules_;
    std::mt19937_64 rng_{1};
};

}  // namespace cspark::emu
