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
/// `asked_id`: the job the request named (a status check), used when the
/// answer carries no id. An error document in place of the job (status
/// "Error" with errorCode, or a v3 `error` object) is a failed job with
/// `error_envelope` set and the server's code and message in `j.diag`; with
/// no job to name (an initiate answer) it is false, `why` quoting it, and
/// `j.diag` filled all the same.
bool parse_job(const boost::json::value& v, std::string_view kind, job_status& j, std::string& why,
               std::string_view asked_id = {});

/// Warnings or errors as the server wrote them (null, a list of strings or
/// objects, one object, a string), each bounded to 1 KiB and masked.
std::vector<job_message> read_messages(const boost::json::value& v);

/// One entry of an import's outputs.services / service_versions: its URIs,
/// its status, whether that is a success (added, replaced, updated, created,
/// imported, completed, none given; compared without regard to case;
/// anything else is a failure) and, when it failed, the server's reason
/// (message, error, reason or errors), bounded and masked.
import_outcome outcome_of(const boost::json::object& entry);

/// One line per entry of `r` that did not succeed: "SRC -> DST: status (reason)".
std::vector<std::string> failed_entries(const import_result& r);

/// "{kind}/{id}/status", or the URL itself when given one.
std::string status_target(std::string_view kind, const std::string& id_or_url);

/// "bytes N-M/T" -> N.
std::optional<std::uint64_t> content_range_start(std::string_view range);

}  // namespace cspark::detail
