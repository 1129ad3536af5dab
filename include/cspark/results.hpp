// What ImpEx operations return: jobs, downloaded files, import summaries.
#pragma once

#include <cspark/error.hpp>
#include <cspark/job.hpp>

#include <boost/json/value.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace cspark {

struct export_file {
    std::string url;        ///< download link (carries its own token: treat as a secret)
    std::string file_hash;  ///< as the server gave it (empty when absent)
};

/// A warning or error as the server wrote it: a string, or an object with a
/// code and a message (other shapes are kept whole, serialized, in `message`).
struct job_message {
    std::string code;
    std::string message;
    /// "code: message", or whichever of the two there is.
    std::string text() const { return code.empty() ? message : message.empty() ? code : code + ": " + message; }
};

struct job_status {
    std::string id;
    std::string kind;           ///< "export" or "import"
    std::string status;         ///< as the server said it
    job_state state = job_state::pending;
    std::string status_url;
    std::int64_t process_time = 0;
    std::vector<export_file> files;   ///< exports
    boost::json::value outputs;       ///< outputs as received (services, service_versions)
    boost::json::value errors;        ///< errors as received (null when none; a list, an object or a string)
    std::vector<job_message> warnings;  ///< the job's warnings (a job that succeeded may have some)
    bool error_envelope = false;      ///< the server answered an error document in place of the job
                                      ///< (`{"status":"Error","errorCode":...}` with 200): the job's own
                                      ///< state is not known from it; code and message are in `diag`
    boost::json::value raw;           ///< the whole status document
    diagnostics diag;                 ///< filled when the operation failed
};

struct downloaded_file {
    std::filesystem::path path;  ///< empty for in-memory downloads
    std::string data;            ///< in-memory downloads only
    std::uint64_t size = 0;
    std::string sha256;          ///< lower-case hex of what was written
    bool verified = false;       ///< the server's file_hash matched (SHA-256 or MD5); without
                                 ///< one, a file is checked as a ZIP (CRCs) before it is kept
    int resumes = 0;             ///< times the transfer resumed with Range
    diagnostics diag;
};

struct export_result {
    job_status job;
    std::vector<downloaded_file> files;
    diagnostics diag;
};

struct import_outcome {
    std::string source;       ///< service_uri_source
    std::string destination;  ///< service_uri_destination
    std::string status;       ///< added, replaced, updated, ... (failed: see `ok`)
    bool ok = true;           ///< the status is a success (added, replaced, updated, created,
                              ///< imported, completed; or none given); anything else is a failure
    std::string reason = {};  ///< a failed entry: the server's message or error for it
};

struct import_result {
    job_status job;
    std::vector<import_outcome> services;
    std::vector<import_outcome> versions;
    /// The job closed without errors but some entries of `services` or
    /// `versions` did not succeed (their `ok` is false): the import happened
    /// in part. The flows end with errc::import_partially_failed then.
    bool partially_failed = false;
    diagnostics diag;
};

struct migration_result {
    export_result exported;
    std::vector<import_result> imported;
    error_code ec;                         ///< first failure; diag below
    diagnostics diag;
    std::chrono::milliseconds elapsed{0};
};

}  // namespace cspark
