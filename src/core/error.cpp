#include <cspark/error.hpp>

#include <iterator>
#include <string>

namespace cspark {
namespace {

class category final : public boost::system::error_category {
public:
    // A fixed id lets categories compare equal across shared objects.
    category() noexcept : boost::system::error_category(0x63737061726b3031ULL) {}
    const char* name() const noexcept override { return "cspark"; }

    std::string message(int ev) const override {
        switch (static_cast<errc>(ev)) {
        case errc::invalid_base_url: return "invalid base URL: expected http(s)://host[:port]/{tenant}";
        case errc::unsupported_scheme: return "unsupported URL scheme: use http or https";
        case errc::missing_tenant: return "no tenant: put it in the base URL path or set the tenant option";
        case errc::missing_credentials: return "no credentials: set an API key, a bearer token or OAuth client credentials (CSPARK_API_KEY, CSPARK_BEARER_TOKEN, CSPARK_CLIENT_ID/CSPARK_CLIENT_SECRET, CSPARK_OAUTH_PATH)";
        case errc::oauth_file_unreadable: return "the OAuth credentials file cannot be read: it must be JSON with client_id and client_secret";
        case errc::invalid_argument: return "invalid argument";
        case errc::resolve_failed: return "the host name could not be resolved: check the base URL and DNS";
        case errc::connect_failed: return "could not connect to the server: check the host, port and that it is running";
        case errc::connect_timeout: return "connecting to the server timed out";
        case errc::tls_handshake_failed: return "the TLS handshake failed";
        case errc::tls_handshake_timeout: return "the TLS handshake timed out";
        case errc::tls_verify_failed: return "the server's TLS certificate was rejected: trust its CA with ca_file (--ca-file) or fix the host name";
        case errc::request_timeout: return "the request did not complete within its timeout";
        case errc::idle_timeout: return "the connection stalled: no data moved within the idle timeout";
        case errc::connection_closed: return "the server closed the connection before the response was complete";
        case errc::too_many_open_files: return "out of file descriptors (EMFILE): lower the concurrency or raise ulimit -n";
        case errc::malformed_response: return "the server's response is not valid HTTP";
        case errc::header_too_large: return "the response header exceeds the header limit";
        case errc::body_too_large: return "the response body exceeds the body limit";
        case errc::malformed_json: return "the response body is not valid JSON";
        case errc::unexpected_response: return "the response lacks a field this client needs";
        case errc::redirect_refused: return "the server redirected the request and the redirect may not be followed";
        case errc::proxy_refused: return "the HTTP proxy refused the request: with 407 it wants credentials (http://user:password@host:port)";
        case errc::bad_request: return "400 Bad Request: the server rejected the request's inputs";
        case errc::unauthorized: return "401 Unauthorized: the credentials are missing, invalid or expired";
        case errc::forbidden: return "403 Forbidden: the credentials lack a permission for this API";
        case errc::not_found: return "404 Not Found";
        case errc::conflict: return "409 Conflict: e.g. another ImpEx job of this tenant is running";
        case errc::unsupported_media_type: return "415 Unsupported Media Type";
        case errc::unprocessable_entity: return "422 Unprocessable Entity";
        case errc::rate_limited: return "429 Too Many Requests: retries exhausted, try again later";
        case errc::server_error: return "500 Internal Server Error (Spark also uses it for invalid input: see diagnostics)";
        case errc::bad_gateway: return "502 Bad Gateway";
        case errc::service_unavailable: return "503 Service Unavailable";
        case errc::gateway_timeout: return "504 Gateway Timeout";
        case errc::http_status: return "the server answered with an unexpected HTTP status";
        case errc::file_error: return "a local file could not be opened, read or written";
        case errc::body_source_error: return "the upload source failed or ended before its declared size";
        case errc::file_exists: return "a file already exists at the destination: remove it or ask to overwrite (--overwrite)";
        case errc::invalid_package: return "the package is not a readable ZIP archive (end record, central directory or CRCs are wrong)";
        case errc::package_too_large: return "the package exceeds the upload limit (Spark's default is 200 MB): export fewer services per package";
        case errc::cancelled: return "the operation was cancelled";
        case errc::deadline_exceeded: return "the overall deadline passed before the operation could succeed";
        case errc::oauth_failed: return "the OAuth token endpoint did not issue a token: check the client id and secret";
        case errc::job_failed: return "the ImpEx job failed: see the job's errors in the diagnostics";
        case errc::job_cancelled: return "the ImpEx job was cancelled";
        case errc::poll_timeout: return "the ImpEx job did not finish in time: raise max_retries/retry_interval or the poll deadline";
        case errc::no_files: return "export job failed to produce any files";
        case errc::job_state_unknown: return "the job's state could not be learned: it may still finish; check it with 'cspark-impex status ID' (or rerun the batch to resume it)";
        case errc::import_outcome_unknown: return "the import upload may have created a job that cannot be identified: it was not sent again; check the tenant's imports ('cspark-impex describe --kind import')";
        case errc::import_partially_failed: return "the import job closed, but some services in it failed: see each service's status and reason (the rest were imported; a rerun does not import them again)";
        case errc::hash_mismatch: return "the downloaded package does not match its file_hash: it was removed; download it again";
        case errc::internal_error: return "internal error in cspark-impex: please report it with the diagnostics";
        }
        return "unknown cspark error " + std::to_string(ev);
    }
};

}  // namespace

const boost::system::error_category& error_category() noexcept {
    static const category instance;
    return instance;
}

errc errc_from_http_status(int status) noexcept {
    switch (status) {
    case 400: return errc::bad_request;
    case 401: return errc::unauthorized;
    case 403: return errc::forbidden;
    case 404: return errc::not_found;
    case 407: return errc::proxy_refused;
    case 409: return errc::conflict;
    case 415: return errc::unsupported_media_type;
    case 422: return errc::unprocessable_entity;
    case 429: return errc::rate_limited;
    case 500: return errc::server_error;
    case 502: return errc::bad_gateway;
    case 503: return errc::service_unavailable;
    case 504: return errc::gateway_timeout;
    default: return errc::http_status;
    }
}

namespace {

// Every errc's machine name, in the enum's order (errc starts at 1).
constexpr std::string_view errc_names[] = {
    "invalid_base_url", "unsupported_scheme", "missing_tenant", "missing_credentials", "oauth_file_unreadable",
    "invalid_argument", "resolve_failed", "connect_failed", "connect_timeout", "tls_handshake_failed",
    "tls_handshake_timeout", "tls_verify_failed", "request_timeout", "idle_timeout", "connection_closed",
    "too_many_open_files", "malformed_response", "header_too_large", "body_too_large", "malformed_json",
    "unexpected_response", "redirect_refused", "proxy_refused", "bad_request", "unauthorized", "forbidden",
    "not_found", "conflict", "unsupported_media_type", "unprocessable_entity", "rate_limited", "server_error",
    "bad_gateway", "service_unavailable", "gateway_timeout", "http_status", "file_error", "body_source_error",
    "file_exists", "invalid_package", "package_too_large", "cancelled", "deadline_exceeded", "oauth_failed",
    "job_failed", "job_cancelled", "poll_timeout", "no_files", "hash_mismatch", "job_state_unknown",
    "import_outcome_unknown", "internal_error", "import_partially_failed",
};
static_assert(std::size(errc_names) == static_cast<std::size_t>(errc::import_partially_failed),
              "a new errc needs its name here, in the enum's order");

}  // namespace

std::string_view error_name(error_code ec) noexcept {
    if (!ec) return "ok";
    if (ec.category() != error_category()) {
        if (ec == boost::system::errc::operation_canceled) return "cancelled";
        if (ec == boost::system::errc::no_space_on_device) return "file_error";
        return "system_error";
    }
    auto i = static_cast<std::size_t>(ec.value());
    return i >= 1 && i <= std::size(errc_names) ? errc_names[i - 1] : "unknown";
}

std::string diagnostics::to_string() const {
    std::string s;
    auto add = [&s](std::string_view key, std::string_view value) {
        if (value.empty()) return;
        if (!s.empty()) s += "; ";
        s += key;
        s += value;
    };
    if (!method.empty() || !url.empty()) add("", method + (method.empty() ? "" : " ") + url);
    if (http_status != 0) add("status ", std::to_string(http_status));
    if (!api_type.empty() || !api_code.empty()) add("api error ", api_type + (api_type.empty() ? "" : "/") + api_code);
    add("message: ", api_message);
    add("", detail);
    add("request id ", request_id);
    if (attempts > 1) add("attempts ", std::to_string(attempts));
    if (api_message.empty() && api_code.empty()) add("body: ", body_excerpt);
    return s;
}

spark_error::spark_error(error_code ec, diagnostics diag)
    : boost::system::system_error(ec, diag.to_string()), diag_(std::move(diag)) {}

}  // namespace cspark
