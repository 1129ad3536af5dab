// cspark::client: one tenant's authenticated HTTP client for Spark APIs.
//
// It adds the base URL, credentials (only ever sent to the base URL's host and
// the token endpoint), x-tenant-name, a fresh x-request-id, User-Agent and
// x-spark-ua to each request, retries what the retry policy allows, and turns
// non-2xx responses into errors with diagnostics.
#pragma once

#include <cspark/config.hpp>
#include <cspark/http.hpp>
#include <cspark/token.hpp>
#include <cspark/transport.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/deferred.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <memory>

namespace cspark {

struct client_stats {
    std::uint64_t requests = 0;      ///< logical requests started
    std::uint64_t attempts = 0;      ///< sends, retries included
    std::uint64_t retries = 0;       ///< sends decided by the retry policy
    std::uint64_t token_fetches = 0; ///< OAuth tokens obtained
    /// Retries by the failure that caused them: error_name() of the attempt's
    /// error ("rate_limited", "service_unavailable", "connection_closed", ...).
    std::map<std::string, std::uint64_t, std::less<>> retry_reasons;
};

/// A handle: copies share one client. Thread-safe on any executor: requests
/// may be started from any thread, on an io_context that many threads run.
/// The client's state lives on its transport's strand (get_executor()), with
/// that of every client sharing the transport; completions run on the
/// completion handler's own executor; stats() may be called from any thread.
/// Emit a cancellation from the thread (or executor) the handler belongs to,
/// as Asio asks of any operation. A handle object itself is not to be
/// assigned on one thread while another copies it (like shared_ptr).
class client {
public:
    /// Resolves the configuration (see resolve_config); throws spark_error.
    /// Runs on a strand of `ex` (the shared transport's, when one is given).
    client(boost::asio::any_io_executor ex, client_config cfg);

    /// Sends `req` and completes with void(error_code, response); with the
    /// default token, `co_await` returns the response or throws spark_error
    /// carrying response.diag.
    ///
    /// Errors: transport errors (connect_failed, tls_verify_failed, *_timeout,
    /// connection_closed, ...), the errc of a non-2xx status (response.status and
    /// response.diag hold the details), body_too_large, oauth_failed, cancelled.
    /// A non-2xx body is kept in response.body (bounded) even when a sink was given.
    ///
    /// Retries: see retry.hpp; a non-idempotent request is never sent again once
    /// a byte of it may have reached the server (except after a 429).
    ///
    /// Cancellation: every cancellation type is honoured at every wait (pool,
    /// connect, send, receive, backoff). The connection in use is closed, the
    /// operation completes with errc::cancelled, and whatever the server already
    /// received stays received. A sink may have received part of the body.
    ///
    /// With g++ 12, write the request into a named local before co_await:
    /// `co_await c.async_send(request{...})` double-frees the temporary (a
    /// compiler bug; clang is fine).
    template <class Token = default_token>
    auto async_send(const request& req, Token&& token = {}) {
        return boost::asio::async_initiate<Token, void(error_code, response)>(
            [impl = impl_](auto handler, const request& r) { launch(impl, r, std::move(handler)); }, token, req);
    }

    const resolved_config& config() const noexcept;
    const base_url& url() const noexcept;
    boost::asio::any_io_executor get_executor() const noexcept;  ///< the transport's strand
    const std::shared_ptr<cspark::transport>& get_transport() const noexcept;
    const std::shared_ptr<timer_service>& timer() const noexcept;
    const logger& log() const noexcept;
    client_stats stats() const;  ///< any thread

    struct impl;

private:
    static void launch(const std::shared_ptr<impl>& impl, const request& req,
                       boost::asio::any_completion_handler<void(error_code, response)> handler);
    std::shared_ptr<impl> impl_;
};

}  // namespace cspark
