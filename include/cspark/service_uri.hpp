// Service URIs as Spark users write them, parsed and validated without the
// official SDKs' sanitising (which corrupts names containing "folders" or
// "services").
#pragma once

#include <cspark/error.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace cspark {

struct service_uri {
    enum class kind { folder_service, service_id, version_id };
    kind form = kind::folder_service;
    std::string folder;
    std::string service;
    std::string version;  ///< "[1.2]" selector without brackets; "" = none
    std::string id;       ///< service or version id for the id forms

    /// "{folder}/{service}[{version}]", "service/{id}", "version/{id}" or a bare id.
    std::string to_string() const;
    /// "{folder}/{service}" (no version).
    std::string path() const { return folder + "/" + service; }
};

/// Accepts "{folder}/{service}", "{folder}/{service}[{version}]",
/// "folders/{folder}/services/{service}[...]", "service/{id}", "version/{id}"
/// and a bare service UUID. Errors: invalid_argument, `why` naming the part.
std::optional<service_uri> parse_service_uri(std::string_view text, std::string& why);

}  // namespace cspark
