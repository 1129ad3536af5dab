// cspark::client: credentials, standard headers, retries and diagnostics on
// top of the transport's exchange. No Beast here.
#include <cspark/client.hpp>
#include <cspark/version.hpp>

#include "core/text.hpp"
#include "http/client_impl.hpp"

#include <cspark/trace.hpp>
#include "http/exchange.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/append.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

#include <random>

namespace cspark {
namespace asio = boost::asio;
namespace json = boost::json;

namespace {


using outcome = detail::send_outcome;
using detail::ensure_token;

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

bool default_idempotent(http_method m) {
    return m == http_method::get || m == http_method::head || m == http_method::put || m == http_method::delete_;
}

// Splits an absolute URL into origin + origin-form target.
bool split_url(std::string_view url, origin& o, std::string& target, std::string& why) {
    auto parsed = boost::urls::parse_absolute_uri(url);
    if (!parsed) {
        why = "'" + detail::mask_url(url) + "' is not a valid URL";
        return false;
    }
    auto u = *parsed;
    std::string scheme = detail::to_lower(u.scheme());
    if (scheme != "http" && scheme != "https") {
        why = "URL scheme '" + scheme + "' is not http or https";
        return false;
    }
    if (u.encoded_host_address().empty()) {
        why = "URL '" + detail::mask_url(url) + "' has no host";
        return false;
    }
    o.tls = scheme == "https";
    o.host = detail::to_lower(u.host_address());
    auto port = u.has_port() ? detail::parse_port(u.port()) : std::optional<std::uint16_t>(o.tls ? 443 : 80);
    if (port) o.port = *port;
    if (!port) {
        why = "URL '" + detail::mask_url(url) + "' has an invalid port";
        return false;
    }
    target = u.encoded_path().empty() ? "/" : std::string(u.encoded_path());
    if (u.has_query()) target += "?" + std::string(u.encoded_query());
    return true;
}

// Fills {type, code, message} from the shapes Spark uses for errors.
void read_api_error(std::string_view body, diagnostics& d) {
    error_code ec;
    json::value v = json::parse(body, ec);
    if (ec || !v.is_object()) return;
    auto str = [](const json::object& o, std::string_view key) -> std::string {
        if (auto* p = o.if_contains(key); p && p->is_string()) return std::string(p->get_string());
        return {};
    };
    const auto& o = v.get_object();
    d.api_type = str(o, "type");
    d.api_code = str(o, "code");
    d.api_message = str(o, "message");
    if (d.api_code.empty()) d.api_code = str(o, "errorCode");
    if (auto* e = o.if_contains("error"); e && e->is_object()) {
        const auto& eo = e->get_object();
        if (d.api_type.empty()) d.api_type = str(eo, "error_type");
        if (d.api_code.empty()) d.api_code = str(eo, "error_category");
        if (d.api_message.empty()) d.api_message = str(eo, "message");
    }
}

// A date hint is counted from the response's own Date (no skew between the
// server's clock and ours), else from this machine's clock.
// Only looked at when there is a hint: most answers have none.
std::optional<std::chrono::milliseconds> retry_after_of(const header_list& h) {
    auto hint = find_header(h, "x-retry-after");
    if (hint.empty()) hint = find_header(h, "retry-after");
    if (hint.empty()) return std::nullopt;
    auto date = parse_http_date(find_header(h, "date"));
    return parse_retry_after(hint, date ? *date : std::chrono::system_clock::now());
}

bool is_redirect(int status) {
    return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

void fill_failure(client::impl& s, response& resp, const detail::wire_result& res, http_method method,
                  const std::string& url, std::string_view stop_reason) {
    auto& d = resp.diag;
    d.http_status = res.status;
    d.method = std::string(to_string(method));
    d.url = detail::mask_url(url);
    d.request_id = resp.request_id;
    d.attempts = resp.attempts;
    d.detail = s.mask(res.detail);
    if (resp.attempts > 1 && !stop_reason.empty())
        d.detail += std::string(d.detail.empty() ? "" : "; ") + "stopped retrying: " + std::string(stop_reason);
    if (!res.body.empty()) {
        read_api_error(res.body, d);
        d.api_message = s.mask(d.api_message);
        d.body_excerpt = s.mask(detail::excerpt(res.body, 1024));
    }
}

// One request from start to answer: where it goes, its headers, redirects,
// the OAuth refresh on a 401, and retries as retry.hpp decides.
class request_run {
public:
    request_run(std::shared_ptr<client::impl> self, request req, std::shared_ptr<detail::op_cancel> oc)
        : self_(std::move(self)), s_(*self_), req_(std::move(req)), oc_(std::move(oc)) {}

    asio::awaitable<outcome> run() {
        out_.resp.request_id = detail::uuid4(s_.rng);
        ++s_.stats.requests;
        if (!resolve()) co_return std::move(out_);
        idempotent_ = req_.idempotent.value_or(default_idempotent(req_.method));
        bool streamed = req_.source || req_.sink;
        per_request_ = req_.timeout.count() > 0 ? req_.timeout : (streamed ? s_.cfg.transfer_timeout : s_.cfg.timeout);
        started_ = s_.timer->now();
        for (int attempt = 1;;) {
            url_ = server_.to_string() + target_;
            header_list headers;
            bool built = co_await build_headers(headers);  // awaited into a local: see docs/contributing.md, "Compiler notes"
            if (!built || !rewind()) co_return std::move(out_);
            auto wr = wire(headers);
            if (s_.cfg.log.enabled(log_level::debug))  // no strings built for a silent logger
                s_.cfg.log.log(log_level::debug, method_name() + " " + detail::mask_url(url_));
            const auto sent_at = clock_type::now();
            const auto sent_wall = std::chrono::system_clock::now();
            detail::wire_result res = co_await detail::exchange(*s_.tr, wr, *oc_);
            if (s_.cfg.trace) trace(headers, res, sent_at, sent_wall);
            out_.resp.attempts = attempt;
            ++s_.stats.attempts;
            if (oc_->cancelled) res.ec = errc::cancelled;
            if (!res.ec && res.status >= 200 && res.status < 300) {
                succeeded(res, sent_at);
                co_return std::move(out_);
            }
            if (!res.ec && is_redirect(res.status)) {
                if (follow(res)) continue;
                co_return std::move(out_);
            }
            if (refresh_token(res)) continue;  // a 401 with OAuth: the token may have been revoked
            bool again = co_await retry(res, attempt);
            if (!again) co_return std::move(out_);
            ++attempt;
        }
    }

private:
    std::string method_name() const { return std::string(to_string(req_.method)); }

    // One exchange into the HAR trace: bodies only when JSON (never a
    // package: a sink's or a source's bytes are counted, not kept).
    void trace(const header_list& headers, const detail::wire_result& res, clock_type::time_point sent_at,
               std::chrono::system_clock::time_point sent_wall) {
        traced_exchange x;
        x.started = sent_wall;
        x.wait = std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() - sent_at);
        x.method = method_name();
        x.url = url_;
        x.request_id = out_.resp.request_id;
        x.request_headers = headers;
        x.request_content_type = req_.content_type;
        if (!req_.source) x.request_body = req_.body;
        x.request_bytes = req_.source ? req_.source->size() : req_.body.size();
        x.status = res.ec ? 0 : res.status;
        x.response_headers = res.headers;
        if (!req_.sink) x.response_body = res.body;
        x.response_bytes = req_.sink ? res.body_bytes : res.body.size();
        if (res.ec) x.error = res.ec.message() + (res.detail.empty() ? "" : ": " + res.detail);
        s_.cfg.trace->record(x, s_.secrets());
    }

    void fail(errc e, std::string detail) {
        out_.ec = e;
        out_.resp.diag.detail = std::move(detail);
    }

    // Where to send it: an absolute URL, a path on the host, or one below the API prefix.
    bool resolve() {
        server_ = s_.rc.url.server;
        if (detail::starts_with_icase(req_.target, "http://") || detail::starts_with_icase(req_.target, "https://")) {
            std::string why;
            if (!split_url(req_.target, server_, target_, why)) return fail(errc::invalid_argument, why), false;
        } else if (!req_.target.empty() && req_.target.front() == '/') {
            target_ = req_.target;
        } else {
            target_ = s_.rc.url.api_prefix() + req_.target;
        }
        if (target_.find_first_of(" \r\n") != std::string::npos)
            return fail(errc::invalid_argument, "request target contains spaces or line breaks"), false;
        return true;
    }

    bool sends_auth() const { return req_.authenticate && server_ == s_.rc.url.server && s_.rc.auth != auth_kind::none; }

    // The client's headers, credentials (only to the base host), the caller's,
    // and a Range to resume a sink; every value checked for control characters.
    asio::awaitable<bool> build_headers(header_list& headers) {
        headers.reserve(8 + req_.headers.size());
        headers.emplace_back("User-Agent", s_.user_agent);
        headers.emplace_back("x-spark-ua", s_.spark_ua);
        headers.emplace_back("x-request-id", out_.resp.request_id);
        if (server_ == s_.rc.url.server) headers.emplace_back("x-tenant-name", s_.rc.url.tenant);
        if (sends_auth()) {
            if (s_.rc.auth == auth_kind::api_key) headers.emplace_back("x-synthetic-key", s_.rc.api_key.reveal());
            if (s_.rc.auth == auth_kind::bearer) headers.emplace_back("Authorization", "Bearer " + s_.rc.bearer_token.reveal());
            if (s_.rc.auth == auth_kind::oauth) {
                error_code tec = co_await ensure_token(self_, oc_);
                if (tec) {
                    out_.ec = tec;
                    out_.resp.diag = s_.token_diag;
                    if (tec == errc::cancelled) out_.resp.diag.detail = "cancelled while obtaining an OAuth token";
                    co_return false;
                }
                headers.emplace_back("Authorization", "Bearer " + s_.access_token);
            }
        }
        for (const auto& h : req_.headers) headers.push_back(h);
        if (req_.sink && req_.sink->resume_offset() > 0 && find_header(req_.headers, "range").empty())
            headers.emplace_back("Range", "bytes=" + std::to_string(req_.sink->resume_offset()) + "-");
        for (const auto& [name, value] : headers)
            if (!detail::header_value_ok(name) || !detail::header_value_ok(value)) {
                fail(errc::invalid_argument, "header '" + detail::excerpt(name, 64) +
                                                 "' contains a control character (CR, LF, ...): refused, it would inject HTTP headers");
                co_return false;
            }
        co_return true;
    }

    bool rewind() {
        if (!req_.source) return true;
        error_code rec;
        req_.source->rewind(rec);
        if (rec) fail(errc::body_source_error, "cannot rewind the upload source: " + rec.message());
        return !rec;
    }

    detail::wire_request wire(const header_list& headers) const {
        detail::wire_request wr;
        wr.method = req_.method;
        wr.server = server_;
        wr.target = target_;
        wr.headers = &headers;
        wr.body = req_.body;
        wr.content_type = req_.content_type;
        wr.source = req_.source;
        wr.sink = req_.sink;
        wr.body_limit = req_.body_limit ? req_.body_limit : (req_.sink ? 0 : s_.cfg.body_limit);
        wr.idempotent = idempotent_;
        if (per_request_.count() > 0) wr.deadline = clock_type::now() + per_request_;
        return wr;
    }

    void succeeded(detail::wire_result& res, clock_type::time_point sent_at) {
        auto& resp = out_.resp;
        resp.status = res.status;
        resp.headers = std::move(res.headers);
        resp.body = std::move(res.body);
        resp.body_bytes = res.body_bytes;
        auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() - sent_at).count();
        if (s_.cfg.log.enabled(log_level::debug))
            s_.cfg.log.log(log_level::debug, method_name() + " " + detail::mask_url(url_) + " -> " + std::to_string(res.status) +
                                             " (" + std::to_string(ms) + " ms)");
    }

    // A redirect: followed for GET/HEAD within the limit, never from https to
    // http; credentials follow only while the server is the base host.
    bool follow(detail::wire_result& res) {
        auto location = find_header(res.headers, "location");
        std::string why = "redirect without a Location header";
        bool may_follow = (req_.method == http_method::get || req_.method == http_method::head) &&
                          redirects_ < s_.cfg.max_redirects && !location.empty();
        if (may_follow) {
            std::string next = std::string(location);
            if (next.front() == '/') next = server_.to_string() + next;
            origin next_server;
            std::string next_target;
            bool downgrade = server_.tls && detail::starts_with_icase(next, "http://");
            if (!downgrade && split_url(next, next_server, next_target, why)) {
                ++redirects_;
                server_ = next_server;
                target_ = next_target;
                return true;
            }
            if (downgrade) why = "redirect from https to http refused";
        } else if (!location.empty()) {
            why = redirects_ >= s_.cfg.max_redirects ? "too many redirects" : "redirects are followed for GET and HEAD only";
        }
        out_.ec = errc::redirect_refused;
        res.detail = why;
        fill_failure(s_, out_.resp, res, req_.method, url_, {});
        out_.resp.status = res.status;
        out_.resp.headers = std::move(res.headers);
        return false;
    }

    bool refresh_token(const detail::wire_result& res) {
        if (res.ec || res.status != 401 || !sends_auth() || s_.rc.auth != auth_kind::oauth || refreshed_) return false;
        refreshed_ = true;
        s_.access_token.clear();
        s_.cfg.log.log(log_level::info, "401 from " + detail::mask_url(url_) + ": refreshing the OAuth token");
        return true;
    }

    // Sends again after a wait when retry.hpp says so; else the failure stands.
    asio::awaitable<bool> retry(detail::wire_result& res, int attempt) {
        attempt_outcome ao;
        ao.ec = res.ec ? res.ec : error_code(errc_from_http_status(res.status));
        ao.http_status = res.ec ? 0 : res.status;
        ao.request_sent = res.request_sent;
        ao.retry_after = retry_after_of(res.headers);
        auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(s_.timer->now() - started_);
        retry_decision d = decide_retry(s_.retry, idempotent_, attempt, ao, elapsed, s_.random01());
        auto& resp = out_.resp;
        if (!d.retry) {
            out_.ec = ao.ec;
            resp.status = res.status;
            resp.headers = std::move(res.headers);
            resp.body_bytes = res.body_bytes;
            fill_failure(s_, resp, res, req_.method, url_, d.reason);
            resp.body = std::move(res.body);
            if (s_.cfg.log.enabled(log_level::debug))
                s_.cfg.log.log(log_level::debug, method_name() + " " + detail::mask_url(url_) + " failed: " + out_.ec.message());
            co_return false;
        }
        s_.stats.retried(error_name(ao.ec));
        s_.cfg.log.log(log_level::warn, method_name() + " " + detail::mask_url(url_) + ": " + std::string(d.reason) +
                                            "; attempt " + std::to_string(attempt + 1) + " of " +
                                            std::to_string(s_.retry.max_retries + 1) + " in " + std::to_string(d.delay.count()) + " ms");
        auto sleep_token = asio::bind_cancellation_slot(oc_->signal.slot(), use_tuple);
        auto [slept] = co_await s_.timer->async_sleep(s_.ex, d.delay, sleep_token);
        if (oc_->cancelled || slept) {
            out_.ec = errc::cancelled;
            resp.diag.detail = "cancelled while waiting to retry";
            resp.diag.attempts = attempt;
            co_return false;
        }
        co_return true;
    }

    std::shared_ptr<client::impl> self_;
    client::impl& s_;
    request req_;
    std::shared_ptr<detail::op_cancel> oc_;
    outcome out_;
    origin server_;
    std::string target_, url_;
    bool idempotent_ = false, refreshed_ = false;
    std::chrono::milliseconds per_request_{0};
    clock_type::time_point started_;
    std::size_t redirects_ = 0;
};

}  // namespace

asio::awaitable<detail::send_outcome> detail::run_request(std::shared_ptr<client::impl> self, request req,
                                                         std::shared_ptr<op_cancel> oc) {
    request_run r(std::move(self), std::move(req), std::move(oc));
    co_return co_await r.run();
}

}  // namespace cspark

