// One request of the ImpEx API and what its answer says (job_requests.cpp).
#pragma once

#include "impex/engine.hpp"
#include "impex/flows.hpp"

#include <cspark/client.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/json/value.hpp>

#include <string>
#include <string_view>

namespace cspark::detail {

/// Sends `req` and reads the answer as JSON; failures fill `diag`.
boost::asio::awaitable<outcome<boost::json::value>> call_json(client& c, request req, diagnostics& diag);

/// A job document from an answer: an ok event with the job, or a failed one
/// (an error document answered with 200 in place of a job is the server's
/// verdict, errc::job_failed). `asked_id`: the job a status check named (an
/// answer without an id is its); `what` names the request in messages.
flow_event job_event(outcome<boost::json::value> got, diagnostics diag, std::string_view kind, std::string_view what,
                     std::string_view asked_id);

/// One status check, no engine: the verb get_status(id, once).
boost::asio::awaitable<outcome<job_status>> check_once(client& c, std::string kind, std::string id_or_url);

/// GET {kind}/status.
boost::asio::awaitable<outcome<boost::json::value>> describe_jobs(client& c, std::string kind);

/// PATCH export/{id} cancelled.
boost::asio::awaitable<outcome<job_status>> cancel_export(client& c, std::string id);

}  // namespace cspark::detail
