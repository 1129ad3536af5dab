// Configuration: plain aggregates with documented defaults, so designated
// initializers read well. Empty fields are filled from CSPARK_* variables.
#pragma once

#include <cspark/base_url.hpp>
#include <cspark/clock.hpp>
#include <cspark/error.hpp>
#include <cspark/logger.hpp>
#include <cspark/retry.hpp>
#include <cspark/secret.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace cspark {

class har_trace;  // cspark/trace.hpp

using namespace std::chrono_literals;

struct tls_config {
    std::string ca_file;    ///< PEM bundle trusted in addition to the system store; "" = system only
    bool insecure = false;  ///< true: accept any certificate (testing only; logged as a warning)
};

/// HTTP proxies, as curl uses them: an https origin is reached through a
/// CONNECT tunnel (the proxy learns the host and port and relays TLS bytes it
/// cannot read: credentials go only inside the tunnel); an http origin by
/// requests in absolute form sent to the proxy (which sees them, as any hop
/// of plain http does). Proxy credentials come from the URL's user info.
/// A loopback origin (localhost, 127.0.0.0/8, ::1: the emulator) goes
/// through a proxy only when the proxy is on loopback too.
struct proxy_config {
    std::string https;     ///< "http://[user:password@]host[:port]" (port 1080 if none) for https origins; "" = direct
    std::string http;      ///< the same for http origins
    std::string no_proxy;  ///< reached directly: "example.com,.corp,10.0.0.0/8,[::1],host:8443"; "*" = every host
};

/// The proxy variables, as curl reads them (lower case first): https_proxy,
/// http_proxy, all_proxy (for either, when the scheme's own is unset),
/// no_proxy; and their upper-case forms. `getenv` is injectable for tests.
proxy_config proxy_from_environment(const std::function<std::optional<std::string>(const char*)>& getenv = {});

/// Connection handling shared by every client that uses the same transport.
struct transport_config {
    tls_config tls;
    /// nullopt = proxy_from_environment(); a value = exactly that (all empty = direct).
    /// A proxy URL that cannot be used makes the transport's constructor throw
    /// spark_error(invalid_argument) naming it (the password masked).
    std::optional<proxy_config> proxy;
    std::size_t max_connections_per_host = 32;  ///< more requests wait for a free connection
    std::chrono::milliseconds keep_alive{30s};  ///< idle connections older than this are closed
    std::chrono::milliseconds connect_timeout{10s};    ///< DNS + TCP connect
    std::chrono::milliseconds handshake_timeout{10s};  ///< TLS handshake
    std::chrono::milliseconds idle_timeout{60s};  ///< no byte moved while a request runs
    std::uint32_t header_limit = 64 * 1024;       ///< max response header bytes
    std::size_t chunk_size = 256 * 1024;           ///< streaming buffer per connection (64 KiB cost 30 % more CPU on 1 MiB packages; 1 MiB more again)
    logger log;
};

struct oauth_credentials {
    std::string client_id;
    secret client_secret;
};

class transport;

struct client_config {
    std::string base_url;        ///< "" = CSPARK_BASE_URL, else built from env + tenant
    std::string tenant;          ///< "" = first path segment of base_url
    std::string env;             ///< e.g. "uat.us", used when base_url is empty
    secret api_key;              ///< "" = CSPARK_API_KEY; "open" = send no credentials
    secret bearer_token;         ///< "" = CSPARK_BEARER_TOKEN; a leading "Bearer " is dropped
    oauth_credentials oauth;     ///< "" = CSPARK_CLIENT_ID / CSPARK_CLIENT_SECRET
    std::string oauth_path;      ///< "" = CSPARK_OAUTH_PATH: JSON file with client_id/client_secret
    std::chrono::milliseconds timeout{60s};  ///< whole request for API calls (SDK default 60 s)
    std::chrono::milliseconds transfer_timeout{0};  ///< whole request for streamed bodies; 0 = none
    int max_retries = 2;         ///< retries of one request after a transient failure (SDK default)
    std::chrono::milliseconds retry_interval{1s};  ///< base of the backoff (SDK default)
    std::chrono::milliseconds max_retry_delay{30s};  ///< cap of one computed backoff
    std::chrono::milliseconds max_retry_after{120s};  ///< longer Retry-After hints are not waited for
    std::chrono::milliseconds retry_deadline{0};  ///< one request, waits included; 0 = none
    bool retry_rate_limited_posts = true;  ///< 429 means refused before any action: a POST may be sent again
    std::uint64_t body_limit = 64ull * 1024 * 1024;  ///< buffered response bodies
    std::size_t max_redirects = 5;  ///< GET/HEAD only; credentials never cross to another host
    std::chrono::milliseconds token_refresh_margin{30s};  ///< refresh OAuth tokens this early
    bool use_environment = true; ///< false: ignore CSPARK_* variables
    transport_config transport;  ///< used when shared_transport is null
    /// nullopt = transport.proxy, whose nullopt means the environment's
    /// proxies (none when use_environment is false); "" = no proxy; a URL =
    /// that proxy for https and http (the environment's no_proxy still applies
    /// when use_environment is true). Ignored with a shared_transport (its own
    /// config decides).
    std::optional<std::string> proxy;
    std::shared_ptr<cspark::transport> shared_transport;  ///< pool shared with other clients
    std::shared_ptr<timer_service> timer;  ///< null = system_timer_service()
    std::function<double()> random;  ///< jitter source in [0,1); null = seeded PRNG
    logger log;
    std::string user_agent_suffix;  ///< appended to User-Agent, e.g. "my-pipeline/1.2"
    /// Every exchange of this client as a HAR 1.2 entry (cspark/trace.hpp;
    /// secrets masked); one trace may serve many clients. null = none.
    std::shared_ptr<har_trace> trace;
};

enum class auth_kind { none, api_key, bearer, oauth };

std::string_view to_string(auth_kind k) noexcept;

/// A client_config with everything looked up and validated.
struct resolved_config {
    base_url url;
    auth_kind auth = auth_kind::none;
    secret api_key;
    secret bearer_token;
    oauth_credentials oauth;
};

/// Looks up the environment (through `getenv`, injectable for tests), reads the
/// OAuth file, parses the base URL and picks the credentials (OAuth > API key >
/// bearer). Errors: invalid_base_url, unsupported_scheme, missing_tenant,
/// missing_credentials, oauth_file_unreadable; diag.detail says which input.
std::optional<resolved_config> resolve_config(
    const client_config& cfg, error_code& ec, diagnostics& diag,
    const std::function<std::optional<std::string>(const char*)>& getenv = {});

}  // namespace cspark
