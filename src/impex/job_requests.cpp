// One request of the ImpEx API and what its answer says: a job, a list of
// jobs, a cancel. The driver's actions and the verbs that need no engine
// (get_status once, describe, cancel) share them.
#include "impex/job_requests.hpp"

#include "impex/codec.hpp"
#include "impex/policy.hpp"

#include "core/text.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/serialize.hpp>

namespace cspark::detail {
namespace asio = boost::asio;
namespace json = boost::json;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

}  // namespace

// Sends and reads the answer as JSON; failures fill `diag`.
asio::awaitable<outcome<json::value>> call_json(client& c, request req, diagnostics& diag) {
    auto [ec, resp] = co_await c.async_send(req, use_tuple);
    if (ec) {
        diag = resp.diag;
        co_return outcome<json::value>{ec, nullptr};
    }
    error_code json_ec;
    json::value v = parse_json_body(resp, json_ec, diag);
    if (json_ec) {
        diag.method = std::string(to_string(req.method));
        diag.url = mask_url(req.target);
    }
    co_return outcome<json::value>{json_ec, std::move(v)};
}

// A job document from a response: ok with the job, or failed.
// The request's own diagnostics (request id, URL) with what an error
// document answered with 200 said in place of a job.
namespace {

diagnostics with_server_error(diagnostics d, const job_status& j, const json::value& doc) {
    d.api_code = j.diag.api_code;
    d.api_type = j.diag.api_type;
    d.api_message = j.diag.api_message;
    if (!d.http_status) d.http_status = 200;
    d.body_excerpt = mask_links(excerpt(json::serialize(doc), 512));
    return d;
}

}  // namespace

// `asked_id`: the job a status check named (an answer without an id is its).
flow_event job_event(outcome<json::value> got, diagnostics diag, std::string_view kind, std::string_view what,
                     std::string_view asked_id) {
    flow_event ev;
    ev.what = flow_event::type::failed;
    ev.diag = std::move(diag);
    if (got.ec) {
        ev.ec = got.ec;
        return ev;
    }
    std::string why;
    if (!parse_job(got.value, kind, ev.job, why, asked_id)) {
        // An error in place of the job that names none (an initiate refused
        // with 200): the server's verdict, not an unreadable answer.
        ev.ec = ev.job.error_envelope ? error_code(errc::job_failed) : error_code(errc::unexpected_response);
        if (ev.job.error_envelope) ev.diag = with_server_error(std::move(ev.diag), ev.job, got.value);
        else ev.diag.body_excerpt = mask_links(excerpt(json::serialize(got.value), 512));
        ev.diag.detail = std::string(what) + ": " + why;
        return ev;
    }
    if (ev.job.error_envelope) ev.job.diag = with_server_error(ev.diag, ev.job, got.value);
    ev.what = flow_event::type::ok;
    return ev;
}

asio::awaitable<outcome<job_status>> check_once(client& c, std::string kind, std::string id_or_url) {
    request req;
    req.target = status_target(kind, id_or_url);
    diagnostics diag;
    auto got = co_await call_json(c, req, diag);
    bool url = req.target == id_or_url;  // status_target took it as a URL: no id to fall back on
    auto ev = job_event(std::move(got), std::move(diag), kind, "job status", url ? std::string() : id_or_url);
    if (ev.what == flow_event::type::failed) ev.job.diag = ev.diag;
    co_return outcome<job_status>{ev.ec, std::move(ev.job)};
}

asio::awaitable<outcome<json::value>> describe_jobs(client& c, std::string kind) {
    diagnostics d;
    request req;
    req.target = kind + "/status";
    auto got = co_await call_json(c, req, d);
    if (got.ec) got.value = nullptr;
    co_return got;
}

asio::awaitable<outcome<job_status>> cancel_export(client& c, std::string id) {
    job_status j;
    request req;
    req.method = http_method::patch;
    req.target = "export/" + id;
    req.body = R"({"export_status":"cancelled"})";
    req.content_type = "application/json";
    // Setting a state twice is setting it once: a cancel that failed in
    // transit is sent again (found by the fault matrix: a 503 left the job running).
    req.idempotent = true;
    auto got = co_await call_json(c, req, j.diag);
    if (got.ec) co_return outcome<job_status>{got.ec, std::move(j)};
    std::string why;
    if (!parse_job(got.value, "export", j, why)) j.id = id;  // tolerant: the cancel went through
    co_return outcome<job_status>{{}, std::move(j)};
}

}  // namespace cspark::detail
