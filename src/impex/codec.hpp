// Pure codec of the ImpEx wire format: request bodies, status documents,
// Content-Range. No I/O.
#pragma once

#include <cspark/impex.hpp>

#include <boost/json/array.hpp>
#include <boost/json/value.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cspark {

/// The services_modify list an import sends for `d`. Errors: invalid_argument
/// naming the bad URI.
std::optional<boost::json::array> services_modify(const destinations& d, error_code& ec, std::string& why);

/// Every mapping `d` names, as given (a URI is a mapping to itself).
std::vector<service_mapping> mappings_of(const destinations& d);

/// Whether `d` names anything: not an empty URI, list or mapping source
/// (migrate then sends every exported service to itself).
bool destination_given(const destinations& d);

}  // namespace cspark

namespace cspark::detail {

/// The JSON body of POST export; false with `why` for a bad request.
bool export_body(const export_request& r, const std::string& correlation_id, std::string& body, std::string& why);

/// The importRequestEntity of POST import.
std::string import_entity(const boost::json::array& services_modify, if_present action, const std::string& source_system,
                          const std::string& correlation_id);

/// A status document (or an initiate answer) into `j`; false with `why`.
bool parse_job(const boost::json::value& v, std::string_view kind, job_status& j, std::string& why);

/// "{kind}/{id}/status", or the URL itself when given one.
std::string status_target(std::string_view kind, const std::string& id_or_url);

/// "bytes N-M/T" -> N.
std::optional<std::uint64_t> content_range_start(std::string_view range);

}  // namespace cspark::detail
