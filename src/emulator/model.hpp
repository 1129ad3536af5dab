// The emulator's data and ImpEx semantics as pure code: tenants, selectors,
// packages (ZIP) and the import action table. No sockets, no clocks.
#pragma once

#include <boost/json/value.hpp>

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace cspark::emu {

struct version {
    std::string id;
    std::string semver;
};

struct service {
    std::string id;
    std::string name;
    std::vector<version> versions;  ///< in creation order
};

struct folder {
    std::string name;
    std::map<std::string, service> services;
};

struct tenant {
    std::string name;
    std::string api_key, bearer_token, client_id, client_secret;
    std::map<std::string, folder> folders;
};

/// An API error: HTTP status and the {type, code, message} body.
struct api_error {
    int status = 400;
    std::string type = "invalid_input";
    std::string code;
    std::string message;
    boost::json::value body() const;
};

// ---- semantic versions
struct semver3 {
    long major = 0, minor = 0, patch = 0;
};
std::optional<semver3> parse_semver(const std::string& s);
bool semver_less(const std::string& a, const std::string& b);
/// "3.2" selects "3.2.x" (component prefix); "" selects anything.
bool version_matches(const std::string& selector, const std::string& semver);
std::string bump(const std::string& latest, const std::string& kind);

/// A deterministic UUIDv4-shaped id from a text.
std::string stable_uuid(const std::string& text);

// ---- export selection
struct selected_version {
    std::string folder, service, service_id, version, version_id;
};

/// Resolves inputs {folders, services, version_ids} with version_filter into
/// the union of versions, or an api_error naming what does not exist.
std::optional<std::vector<selected_version>> select_versions(const tenant& t, const boost::json::value& inputs,
                                                             const std::string& version_filter, api_error& err);

// ---- packages
struct package_result {
    std::uint64_t size = 0;
    std::string sha256;
    boost::json::value services;          ///< outputs.services
    boost::json::value service_versions;  ///< outputs.service_versions
};

/// Writes the export ZIP: {tenant}/manifest.json and one folder per version
/// with metadata and `payload_bytes` deterministic bytes; `migrate` adds what
/// re-import needs. Same inputs give the same bytes.
package_result write_package(const std::filesystem::path& path, const std::string& tenant_name,
                             const std::vector<selected_version>& versions, const std::string& file_filter,
                             std::uint64_t payload_bytes);

struct package_version {
    std::string folder, service, service_id, version, version_id;
};

struct package_contents {
    std::string source_tenant;
    std::string file_filter;
    std::vector<package_version> versions;
};

/// Opens and fully verifies (every CRC) an uploaded package; api_error
/// INVALID_IMPORT_ZIP naming the defect otherwise.
std::optional<package_contents> read_package(const std::filesystem::path& path, api_error& err);
/// The same for an upload held in memory.
std::optional<package_contents> read_package_bytes(std::string bytes, api_error& err);

// ---- import
struct mapping {
    std::string source_folder, source_service;
    std::string source_version;  ///< "[1.2]" in service_uri_source: only the latest version it selects

    std::string dest_folder, dest_service;
    std::string update_version_type = "minor";
};

/// Parses importRequestEntity against the package: every source must be in
/// it (404 SERVICE_NOT_FOUND otherwise). A version in service_uri_source
/// ("f/s[1.2]") selects like export's services input: the latest version of
/// the package that the prefix matches, only that one. Two mappings aimed at
/// one destination are refused (400 DUPLICATE_DESTINATION). Returns mappings
/// + action.
std::optional<std::vector<mapping>> parse_import_entity(const boost::json::value& entity,
                                                        const package_contents& pkg, std::string& action,
                                                        api_error& err);

struct import_result {
    boost::json::value services = boost::json::array();
    boost::json::value service_versions = boost::json::array();
    boost::json::value errors = nullptr;  ///< array of {type, code, message} when it failed
};

/// Applies the action table atomically: either every mapping succeeds or the
/// tenant is left unchanged and `errors` says why.
import_result apply_import(tenant& t, const package_contents& pkg, const std::vector<mapping>& mappings,
                           const std::string& action);

}  // namespace cspark::emu
