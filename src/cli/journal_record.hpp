// The batch journal's records, one codec: every record `batch` writes is
// made here, and every reader (the journal's replay into resume points, the
// report) reads records through read_record(). The format:
//
//   {"e":"run","migrations":N}                      a run starts (N entries to do)
//   {"m":NAME,"e":"export_intent","cid":C,"src":S,"dst":D}  before POST export (C = correlation id, S/D = tenants)
//   {"m":NAME,"e":"export_job","id":J}             after POST export
//   {"m":NAME,"e":"export_done","id":J,"ms":D}     the job ended after D ms (phase times only)
//   {"m":NAME,"e":"downloaded","path":P,"sha256":H,"bytes":B}
//   {"m":NAME,"e":"import_intent","file":P,"cid":C,"dst":D}  before POST import
//   {"m":NAME,"e":"import_job","id":J}
//   {"m":NAME,"e":"import_done","id":J,"ms":D}
//   {"m":NAME,"e":"done","ok":true|false,"code":E,"error":...,"status":H,"api_code":A,"request_id":R,
//    "warnings":[...],"services":[{source,destination,status,ok,reason}]}   (services: an import failed in part)
//                                                   a known outcome (E = error_name)
//   {"m":NAME,"e":"unknown","code":E,"error":...}  an unknown outcome: the next run resumes it
//   {"e":"run_end","retries":R,"bytes_down":B,"bytes_up":U}
//
// "m" is one NAME, or [NAME, ...] for a step of a combined job (a rerun
// resumes them together); every record has "t", its wall time in ms since
// the epoch.
#pragma once

#include <cspark/fleet.hpp>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace cspark::cli {

enum class record_kind {
    run, run_end, export_intent, export_job, export_done, downloaded, import_intent, import_job, import_done, done, unknown,
    other,  ///< a record this version does not know (skipped by every reader)
};

/// One record, read: every member a reader uses, typed (absent: empty / 0).
struct journal_record {
    record_kind kind = record_kind::other;
    std::string e;                     ///< the kind as written
    std::vector<std::string> members;  ///< "m": the migrations it is for (none: a run record)
    std::int64_t t = 0;                ///< wall time, ms since the epoch (0: unknown)
    std::string id, cid, src, dst, path, sha256, file;
    std::int64_t ms = 0, bytes = 0;
    bool ok = false;  ///< done
    std::string code, error, api_code, request_id;  ///< done (failed) / unknown
    int status = 0;
    std::vector<std::string> warnings;
    std::int64_t retries = 0;  ///< run_end
};

journal_record read_record(const boost::json::object& rec);

/// What the journal says about one migration: where a rerun resumes it.
struct progress_state {
    std::string export_cid, export_job, path, sha256, import_cid, import_file, import_job;
    std::int64_t export_t = 0, import_t = 0;  ///< wall time of the intent (ms since the epoch; 0 = unknown)
    std::optional<bool> done;
    bool imported = false;  ///< done, not ok, but its import happened (import_partially_failed): never sent again
};

/// Replays one record into a migration's state.
void apply(progress_state& st, const journal_record& r);

/// Where a migration resumes: what the journal says was done; the package
/// only when `package_ok` (it is there and still has the recorded hash).
migration_checkpoint checkpoint_of(const progress_state& st, bool package_ok);

// ---- writing (each with its "t")

/// A fleet step of `who` (a name, or an array of names for a combined job).
boost::json::object step_record(const boost::json::value& who, const checkpoint_event& ev, const progress_state& st,
                                const std::string& source_tenant, const std::string& target_tenant);
/// A known outcome ("done") or an unknown one ("unknown", a rerun resumes it).
boost::json::object outcome_record(const std::string& name, const migration_result& m, const std::vector<std::string>& warnings);
boost::json::object run_record(std::size_t migrations);
boost::json::object run_end_record(std::uint64_t retries, std::uint64_t bytes_down, std::uint64_t bytes_up);

}  // namespace cspark::cli
