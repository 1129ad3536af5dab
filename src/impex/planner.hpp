// Fleet planning as pure code: which migrations share one export job and one
// import job (coalescing), how a failed combined job splits so one bad
// service fails alone, and which part of a combined result is each entry's.
// No I/O; fleet.cpp carries the plan out.
#pragma once

#include <cspark/error.hpp>
#include <cspark/requests.hpp>
#include <cspark/results.hpp>

#include "impex/policy.hpp"

#include <boost/json/object.hpp>

#include <compare>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace cspark::detail {

/// What fleet entries must have alike to share one export and one import
/// job: everything of their requests but selectors, mappings and names
/// (file_prefix, correlation ids). Compared whole by the defaulted <=>, so a
/// field added here takes part in the comparison by construction (the hand-
/// joined string it replaces had left out poll.max_interval and adaptive).
struct share_key {
    std::uintptr_t source = 0, target = 0;  ///< the tenants' impex objects
    cspark::file_filter files = cspark::file_filter::migrate;
    cspark::version_filter versions = cspark::version_filter::latest;
    std::string source_system;
    cspark::if_present action = cspark::if_present::add_version;
    bool keep_files = false;
    std::string directory;
    bool mapped = false;  ///< explicit destinations, or every service to itself
    std::optional<int> max_retries;
    std::optional<std::int64_t> retry_interval_ms;
    std::int64_t max_interval_ms = 0, deadline_ms = 0;
    bool adaptive = true, durable = true, overwrite = false;
    std::size_t alone = 0;  ///< without coalescing: the entry's index + 1 (no two alike)
    auto operator<=>(const share_key&) const = default;
};

/// The share_key of a request between two tenants (`alone` = 0: coalescing).
share_key share_key_of(const migrate_request& r, const void* source, const void* target, std::size_t alone = 0);

/// What the planner needs to know of one fleet entry.
struct plan_item {
    std::string key;           ///< entries share a job only with equal keys (tenant pair, options)
    std::size_t weight = 1;    ///< services it names (selectors or mappings, whichever is more)
    std::vector<std::string> destinations;  ///< lower-cased explicit destinations (none: every service to itself)
    std::string resume;        ///< non-empty: a checkpoint; entries with equal ones resume one job together
};

/// Groups entries (indices, in order) into combined jobs: equal keys, at most
/// `max_weight` services a group (an entry heavier than that is alone), never
/// two entries sending a service to one destination. Entries that resume a
/// checkpoint form groups of exactly those with the same checkpoint.
std::vector<std::vector<std::size_t>> plan_groups(const std::vector<plan_item>& items, std::size_t max_weight);

/// Whether a combined job that failed with `ec` may have failed for one of its
/// entries (a service or folder that does not exist, a job that failed, a
/// package over the budget): then splitting it isolates the bad one. Failures
/// every entry would meet alike (credentials, network, unknown outcomes,
/// cancellation, local files) are not split.
bool failure_splits(error_code ec) noexcept;

/// The members a failure's text names (a service, folder, version id or
/// destination of theirs appears in it): they run alone, the rest together.
/// Empty when none or all are named: then the group is halved.
std::vector<std::size_t> named_members(const std::string& failure_text,
                                       const std::vector<std::vector<std::string>>& names_of_members);

/// Splits a failed group: the named members one by one and the rest as one
/// group, else two halves. Each bad entry costs at most 2 x ceil(log2 n)
/// extra runs of a group of n (each an export and, when it gets that far, an
/// import); a named one costs one run alone and one of the rest.
std::vector<std::vector<std::size_t>> split_group(const std::vector<std::size_t>& group,
                                                  const std::vector<std::size_t>& named);

/// Whether an export request's selectors pick a service version as the
/// export's outputs.service_versions describes it (folder, folder/service,
/// service id, version id).
bool selects(const export_request& r, const boost::json::object& service_version);

/// The services (service paths) of an export's outputs.service_versions
/// that the request's selectors pick, each once.
std::vector<std::string> selected_services(const export_request& r, const boost::json::value& outputs);

/// The parts of a combined import that are each entry's. Built once per
/// combined job (outcomes indexed by service path), asked once per entry.
class import_shares {
public:
    explicit import_shares(const import_result& combined);
    /// With `destinations` (one per source): the outcomes of those (source,
    /// destination) pairs; without: every outcome whose source is among
    /// `sources`. The job is left empty for the caller to fill.
    import_result of(const std::vector<std::string>& sources, const std::vector<std::string>& destinations) const;

private:
    const import_result& all_;
    // service path of the source -> (destination path, index) of services / versions
    std::map<std::string, std::vector<std::pair<std::string, std::size_t>>> services_, versions_;
};

}  // namespace cspark::detail
