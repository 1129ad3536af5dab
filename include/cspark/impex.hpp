// Spark's ImpEx API: export packages from one tenant, import them into
// another, under the names the official SDKs use (exp, imp, exports.*,
// imports.*, migrate), plus what they lack: verified streaming downloads that
// resume, imports that are never duplicated, real cancellation, progress and a
// fleet runner that migrates many tenant pairs on one io_context.
//
// Verbs take a completion token; the default, with_diagnostics(deferred),
// makes `co_await` throw spark_error with the diagnostics; other tokens get
// void(error_code, T), T carrying `diag` on failure. Flows (exp, imp,
// migrate, migrate_fleet) return asio::awaitable<T> and throw spark_error;
// async_exp, async_imp, async_migrate, async_migrate_fleet take any
// completion token: void(std::exception_ptr, T).
// Thread-safe on any executor: the verbs and flows run on the client's strand
// (client::get_executor()) whatever thread starts or awaits them, and an
// awaited flow resumes its caller on the caller's executor. So one impex may
// serve hundreds of flows started from several threads that run one
// io_context. Progress callbacks run on the strand: flows of clients on
// different transports may call them at the same time from different threads.
#pragma once

#include <cspark/client.hpp>
#include <cspark/fleet.hpp>
#include <cspark/job.hpp>
#include <cspark/progress.hpp>
#include <cspark/requests.hpp>
#include <cspark/results.hpp>
#include <cspark/service_uri.hpp>
#include <cspark/token.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/json/value.hpp>

#include <string>

namespace cspark {

class impex;

/// The verbs exports and imports share. Completion: void(error_code, T).
class job_verbs {
public:
    /// One status check. Completion: void(error_code, job_status); a failed or
    /// cancelled job is not an error here (see job_status::state).
    template <class Token = default_token>
    auto get_status(const std::string& job_id_or_url, Token&& token = {}) {
        return boost::asio::async_initiate<Token, void(error_code, job_status)>(
            [this](auto h, const std::string& id) { do_status(id, nullptr, std::move(h)); }, token, job_id_or_url);
    }
    /// Polls until the job ends. Ends at once on a failed or cancelled job:
    /// errc::job_failed / job_cancelled with the job's errors in diag;
    /// poll_timeout when attempts or deadline run out. Checks that fail
    /// transiently (network, 429, 5xx) are asked again on the poll schedule;
    /// when the state stays unknown (or a check is refused, e.g. 401),
    /// errc::job_state_unknown naming the job: it may still finish.
    template <class Token = default_token>
    auto wait(const std::string& job_id_or_url, const poll_options& poll, Token&& token = {}) {
        return boost::asio::async_initiate<Token, void(error_code, job_status)>(
            [this](auto h, const std::string& id, const poll_options& p) { do_status(id, &p, std::move(h)); }, token,
            job_id_or_url, poll);
    }
    /// GET {kind}/status: jobs in progress and finished in the last hour.
    template <class Token = default_token>
    auto describe(Token&& token = {}) {
        return boost::asio::async_initiate<Token, void(error_code, boost::json::value)>(
            [this](auto h) { do_describe(std::move(h)); }, token);
    }

protected:
    job_verbs(impex* owner, const char* kind) : owner_(owner), kind_(kind) {}
    void do_status(const std::string&, const poll_options*, boost::asio::any_completion_handler<void(error_code, job_status)>);
    void do_describe(boost::asio::any_completion_handler<void(error_code, boost::json::value)>);
    impex* owner_;
    const char* kind_;  ///< "export" or "import"
};

/// Export verbs: initiate, get_status, download, cancel, describe.
class exports_api : public job_verbs {
public:
    /// POST export; the job as created. Errors: invalid_argument (request),
    /// HTTP errors (conflict when a job of the tenant is running).
    template <class Token = default_token>
    auto initiate(const export_request& req, Token&& token = {}) {
        return boost::asio::async_initiate<Token, void(error_code, job_status)>(
            [this](auto h, const export_request& r) { do_initiate(r, std::move(h)); }, token, req);
    }
    /// Streams one file to `opt.directory` (`.part`, hashed, verified, renamed).
    /// Errors: unsupported_scheme (a link that is not http(s)), file_exists
    /// (unless opt.overwrite), hash_mismatch, invalid_package (no hash and not
    /// a readable ZIP), file_error naming the path and the system error.
    /// Nothing is left at the destination on failure. Cancellation removes the
    /// partial file.
    template <class Token = default_token>
    auto download(const export_file& file, const download_options& opt, Token&& token = {}) {
        return boost::asio::async_initiate<Token, void(error_code, downloaded_file)>(
            [this](auto h, const export_file& f, const download_options& o) { do_download(f, o, std::move(h)); },
            token, file, opt);
    }
    /// PATCH export/{id} {"export_status":"cancelled"}.
    template <class Token = default_token>
    auto cancel(const std::string& job_id, Token&& token = {}) {
        return boost::asio::async_initiate<Token, void(error_code, job_status)>(
            [this](auto h, const std::string& id) { do_cancel(id, std::move(h)); }, token, job_id);
    }

private:
    friend class impex;
    explicit exports_api(impex* owner) : job_verbs(owner, "export") {}
    void do_initiate(const export_request&, boost::asio::any_completion_handler<void(error_code, job_status)>);
    void do_download(const export_file&, download_options, boost::asio::any_completion_handler<void(error_code, downloaded_file)>);
    void do_cancel(const std::string&, boost::asio::any_completion_handler<void(error_code, job_status)>);
};

/// Import verbs: initiate, get_status, describe.
class imports_api : public job_verbs {
public:
    /// POST import (multipart streamed from the file). A send that may have
    /// reached the server is never repeated blindly: the job is looked up in
    /// describe by correlation_id, or, where describe shows none, among the
    /// tenant's jobs created since the POST began, confirmed by outputs that
    /// match the mappings sent. When no job can be told apart:
    /// errc::import_outcome_unknown (candidates in diag), nothing resent.
    /// package_too_large before sending when the file exceeds max_package_bytes.
    template <class Token = default_token>
    auto initiate(const import_request& req, Token&& token = {}) {
        return boost::asio::async_initiate<Token, void(error_code, job_status)>(
            [this](auto h, const import_request& r) { do_initiate(r, std::move(h)); }, token, req);
    }

private:
    friend class impex;
    explicit imports_api(impex* owner) : job_verbs(owner, "import") {}
    void do_initiate(const import_request&, boost::asio::any_completion_handler<void(error_code, job_status)>);
};

/// The ImpEx resource of one tenant's client: `cspark::impex spark(client)`.
/// Movable (the verbs follow the object); copies would share one client.
class impex {
public:
    explicit impex(client c);
    impex(impex&& other) noexcept : client_(std::move(other.client_)) {}
    impex& operator=(impex&& other) noexcept {
        client_ = std::move(other.client_);
        return *this;
    }
    impex(const impex&) = delete;
    impex& operator=(const impex&) = delete;

    exports_api exports{this};
    imports_api imports{this};

    /// initiate -> poll -> download every file (verified). Cancellation also
    /// cancels the server job (best effort) and removes partial files.
    boost::asio::awaitable<export_result> exp(export_request req);
    /// upload -> poll -> summary. Throws spark_error (job_failed with the
    /// job's errors, ...).
    boost::asio::awaitable<import_result> imp(import_request req);
    /// Export here, import into `target`.
    boost::asio::awaitable<migration_result> migrate(impex& target, migrate_request req);

    /// The flows with any completion token (a callback, use_future, deferred,
    /// ...): void(std::exception_ptr, T), asio::co_spawn's convention; a
    /// failure is the spark_error (code and diagnostics) in the exception_ptr,
    /// and use_future's get() throws it. They run on the client's executor;
    /// a cancellation slot bound to the token cancels them as it would a
    /// co_await (the export job is cancelled on the server, partial files
    /// removed). The awaitable forms above stay.
    template <class Token>
    auto async_exp(export_request req, Token&& token) {
        return boost::asio::co_spawn(client_.get_executor(), exp(std::move(req)), std::forward<Token>(token));
    }
    template <class Token>
    auto async_imp(import_request req, Token&& token) {
        return boost::asio::co_spawn(client_.get_executor(), imp(std::move(req)), std::forward<Token>(token));
    }
    template <class Token>
    auto async_migrate(impex& target, migrate_request req, Token&& token) {
        return boost::asio::co_spawn(client_.get_executor(), migrate(target, std::move(req)), std::forward<Token>(token));
    }

    client& get_client() noexcept { return client_; }
    const client& get_client() const noexcept { return client_; }

private:
    friend class job_verbs;
    friend class exports_api;
    friend class imports_api;
    client client_;
};

}  // namespace cspark
