// Errors of cspark-impex: one error_code enum, one category, and a diagnostics
// object that travels beside the code.
//
// Every asynchronous operation completes with a boost::system::error_code whose
// category is cspark::error_category() (or Asio's, for raw socket failures that
// have no better name). What a user needs to act on an error -- HTTP status, the
// API's {type, code, message}, the request id, the URL -- is in `diagnostics`,
// which operations return beside the code. `spark_error` is a thin exception
// adapter over the same pair.
#pragma once

#include <boost/system/error_code.hpp>
#include <boost/system/system_error.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>

namespace cspark {

using error_code = boost::system::error_code;

enum class errc {
    // Configuration and input: nothing was sent.
    invalid_base_url = 1,   ///< base URL is not http(s)://host[:port]/{tenant}
    unsupported_scheme,     ///< scheme other than http or https
    missing_tenant,         ///< no tenant in the base URL nor in the config
    missing_credentials,    ///< no API key, bearer token or OAuth credentials
    oauth_file_unreadable,  ///< CSPARK_OAUTH_PATH / oauth_path cannot be read or parsed
    invalid_argument,       ///< a request field is malformed (see diagnostics)

    // Network.
    resolve_failed,         ///< host name could not be resolved
    connect_failed,         ///< TCP connection refused or unreachable
    connect_timeout,        ///< TCP connect did not finish within connect_timeout
    tls_handshake_failed,   ///< TLS negotiation failed (protocol, cipher, peer closed)
    tls_handshake_timeout,  ///< TLS handshake did not finish within handshake_timeout
    tls_verify_failed,      ///< server certificate rejected (unknown CA, name mismatch, expired)
    request_timeout,        ///< the whole request exceeded its timeout
    idle_timeout,           ///< no bytes moved for idle_timeout while a request was running
    connection_closed,      ///< peer closed or reset the connection before the response ended
    too_many_open_files,    ///< process ran out of file descriptors (EMFILE)

    // Protocol.
    malformed_response,     ///< the server's bytes are not valid HTTP/1.1
    header_too_large,       ///< response header exceeds the header limit
    body_too_large,         ///< response body exceeds the request's body limit
    malformed_json,         ///< body was expected to be JSON and is not
    unexpected_response,    ///< JSON is valid but lacks a field this library needs
    redirect_refused,       ///< a redirect the request may not follow (method, scheme, limit)
    proxy_refused,          ///< the HTTP proxy refused (407: it wants credentials; 403: not allowed)

    // HTTP status codes returned by the server (diagnostics.http_status has the number).
    bad_request,            ///< 400
    unauthorized,           ///< 401: credentials rejected or expired
    forbidden,              ///< 403: credentials lack a permission
    not_found,              ///< 404
    conflict,               ///< 409: e.g. another ImpEx job of the tenant is running
    unsupported_media_type, ///< 415
    unprocessable_entity,   ///< 422
    rate_limited,           ///< 429
    server_error,           ///< 500 (Spark also uses it for some client errors)
    bad_gateway,            ///< 502
    service_unavailable,    ///< 503
    gateway_timeout,        ///< 504
    http_status,            ///< any other non-2xx status

    // Local I/O.
    file_error,             ///< a local file could not be opened, read or written (detail: path and system error)
    body_source_error,      ///< an upload source failed or yielded fewer bytes than its size
    file_exists,            ///< a file is already at the destination path and overwrite was not asked for
    invalid_package,        ///< a package is not a readable ZIP (end record, central directory, CRCs)
    package_too_large,      ///< a package is larger than the upload limit (Spark: 200 MB by default)

    // Flow.
    cancelled,              ///< the caller cancelled the operation
    deadline_exceeded,      ///< retries stopped because the overall deadline would pass
    oauth_failed,           ///< the token endpoint refused or answered without a token
    job_failed,             ///< the ImpEx job ended with errors (diagnostics hold them)
    job_cancelled,          ///< the ImpEx job was cancelled
    poll_timeout,           ///< the job was still running when polling ran out of attempts or time
    no_files,               ///< the export finished without producing any file
    hash_mismatch,          ///< the downloaded file does not match the server's file_hash
    job_state_unknown,      ///< the job exists but its state could not be learned: it may still
                            ///< finish; check or resume it by id (diagnostics name the job)
    import_outcome_unknown, ///< an import upload may have created a job that cannot be told apart:
                            ///< it was not sent again (diagnostics list the candidate jobs)
    internal_error,         ///< a bug in cspark-impex: please report it with the diagnostics
    import_partially_failed,///< the import job closed, but some services or versions in it failed
                            ///< (import_result::services/versions say which; diagnostics name them)
};

/// The category of every cspark::errc value. Its messages say what to do.
const boost::system::error_category& error_category() noexcept;

inline error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), error_category()}; }

/// A stable machine-readable name for `ec`: the errc's identifier
/// ("not_found", "job_failed", ...), "cancelled" for Asio's operation_aborted,
/// "system_error" for other categories, "ok" for no error. Names never change
/// between versions (JSON output, journals, metrics labels rely on them).
std::string_view error_name(error_code ec) noexcept;

/// The errc for a non-2xx HTTP status (http_status for unlisted ones).
errc errc_from_http_status(int status) noexcept;

/// Everything known about a failure beside its code. Strings never hold secrets:
/// credentials and URL query values are masked before they are stored here.
struct diagnostics {
    int http_status = 0;        ///< 0 when no response was received
    std::string api_type;       ///< the API's error "type" (or v3 "error_type"), when present
    std::string api_code;       ///< the API's error "code" (or "errorCode"), when present
    std::string api_message;    ///< the API's error "message", when present
    std::string request_id;     ///< x-request-id sent with the request
    std::string method;         ///< HTTP method of the failed request
    std::string url;            ///< URL of the failed request, query values masked
    std::string body_excerpt;   ///< first bytes of the response body (bounded, masked)
    std::string detail;         ///< what went wrong in words (TLS reason, JSON error, ...)
    int attempts = 0;           ///< how many times the request was sent

    bool empty() const noexcept { return http_status == 0 && detail.empty() && url.empty(); }
    /// One line for logs and exception messages.
    std::string to_string() const;
};

/// The exception form of (error_code, diagnostics).
class spark_error : public boost::system::system_error {
public:
    spark_error(error_code ec, diagnostics diag);
    const diagnostics& diag() const noexcept { return diag_; }

private:
    diagnostics diag_;
};

/// Throws spark_error when ec is set.
inline void throw_if(error_code ec, const diagnostics& diag) {
    if (ec) throw spark_error(ec, diag);
}

}  // namespace cspark

namespace boost::system {
template <>
struct is_error_code_enum<cspark::errc> : std::true_type {};
}  // namespace boost::system
