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

struct job_status {
    std::string id;
    std::string kind;           ///< "export" or "import"
    std::string status;         ///< as the server said it
    job_state state = job_state::pending;
    std::string status_url;
    std::int64_t process_time = 0;
    std::vector<export_file> files;   ///< exports
    boost::json::value outputs;       ///< outputs as received (services, service_versions)
    boost::json::value errors;        ///< errors as received (null when none)
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
    std::string status;       ///< added, replaced, updated, ...
};

struct import_result {
    job_status job;
    std::vector<import_outcome> services;
    std::vector<import_outcome> versions;
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
