// What ImpEx operations take: export, import, download and migrate requests,
// with the official SDKs' fields and defaults.
#pragma once

#include <cspark/progress.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace cspark {

enum class file_filter { migrate, onpremises };
enum class version_filter { latest, all };
enum class if_present { abort, replace, add_version };
enum class upgrade { major, minor, patch };

std::string_view to_string(file_filter f) noexcept;
std::string_view to_string(version_filter f) noexcept;
std::string_view to_string(if_present p) noexcept;
std::string_view to_string(upgrade u) noexcept;

/// The wire names back (what to_string gives); false, `out` untouched, for
/// any other text. One table serves both directions.
bool from_string(std::string_view s, file_filter& out) noexcept;
bool from_string(std::string_view s, version_filter& out) noexcept;
bool from_string(std::string_view s, if_present& out) noexcept;
bool from_string(std::string_view s, upgrade& out) noexcept;


struct poll_options {
    std::optional<int> max_retries;                        ///< status checks (SDK knob); default: until deadline
    std::optional<std::chrono::milliseconds> retry_interval;  ///< first wait (SDK knob); default 1 s
    std::chrono::milliseconds max_interval{10000};          ///< waits grow up to this (x1.2 while nothing is known of
                                                           ///< the kind and checks are not counted, else x1.5)
    std::chrono::milliseconds deadline{30 * 60 * 1000};     ///< whole poll
    bool adaptive = true;  ///< once the tenant has finished jobs of this kind, check at their typical
                           ///< duration (median of the last 8) instead of on the growing schedule;
                           ///< the knobs above still bound every wait and the number of checks.
                           ///< The durations are those of the client's transport (transport::history():
                           ///< clients sharing a transport share them; a tenant without any yet takes its
                           ///< Spark host's); nothing is shared beyond one transport
};

struct export_request {
    std::vector<std::string> folders;
    std::vector<std::string> services;     ///< "{folder}/{service}[{version}]", "service/{id}", "version/{id}"
    std::vector<std::string> version_ids;
    cspark::file_filter file_filter = cspark::file_filter::migrate;
    cspark::version_filter version_filter = cspark::version_filter::latest;
    std::string source_system;             ///< "" = "cspark-impex"
    std::string correlation_id;            ///< "" = none for initiate; exp uses a fresh "cspark-impex-{uuid}"
                                           ///< to find (and cancel) a job an interrupted request created
    poll_options poll;                     ///< how the job is awaited (SDK knobs: max_retries, retry_interval)
    std::filesystem::path directory = ".";  ///< exp: where packages are written
    bool durable = true;                   ///< exp: fsync packages before renaming them into place
    bool overwrite = false;                ///< exp: replace files already in `directory` (default:
                                           ///< errc::file_exists, nothing downloaded)
    std::string file_prefix;               ///< exp: "" = name packages after their links; else
                                           ///< "{prefix}-{first 8 of the job id}.zip"
    progress_fn progress;
};

struct service_mapping {
    std::string source;                    ///< "{folder}/{service}" in the package
    std::string target;                    ///< "" = same as source
    cspark::upgrade upgrade = cspark::upgrade::minor;
};

/// One URI, a list of URIs, one mapping or a list of mappings.
using destinations = std::variant<std::string, std::vector<std::string>, service_mapping, std::vector<service_mapping>>;

struct import_request {
    std::filesystem::path file;            ///< the package to upload (streamed)
    destinations destination = std::vector<service_mapping>{};
    cspark::if_present if_present = cspark::if_present::add_version;
    std::string source_system;             ///< "" = "cspark-impex"
    std::string correlation_id;            ///< "" = a fresh "cspark-impex-{uuid}", used to never import twice
    std::uint64_t max_package_bytes = 200ull * 1024 * 1024;  ///< larger packages fail before sending
                                           ///< (errc::package_too_large; Spark's default limit); 0 = no check
    poll_options poll;                     ///< how the job is awaited
    progress_fn progress;
};

struct download_options {
    std::filesystem::path directory = ".";
    std::string file_name;                 ///< "" = from the URL
    std::string expected_hash;             ///< "" = none; 64 hex SHA-256, 32 hex MD5
    int max_resumes = 5;                   ///< Range resumes after dropped connections
    bool in_memory = false;                ///< keep the bytes in downloaded_file::data
    bool durable = true;                   ///< fsync before the rename (off for packages that are
                                           ///< imported and deleted right away, as migrate does)
    bool overwrite = false;                ///< replace an existing file at the destination path
                                           ///< (default: errc::file_exists before anything is sent)
    std::uint64_t memory_limit = 64ull * 1024 * 1024;
    progress_fn progress;
};

struct migrate_request {
    export_request exports;
    destinations destination = std::vector<service_mapping>{};  ///< empty = every exported service to itself
    cspark::if_present if_present = cspark::if_present::add_version;
    bool keep_files = false;               ///< leave the packages in exports.directory
};

}  // namespace cspark
