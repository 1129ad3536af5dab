// The client's OAuth token cache: client-credentials grant, one fetch shared
// by concurrent requests, refreshed before expires_in.
#include "http/client_impl.hpp"

namespace cspark::detail {
namespace asio = boost::asio;
namespace json = boost::json;

namespace {

// Obtains a token from the token endpoint (client credentials grant).
asio::awaitable<error_code> fetch_token(std::shared_ptr<client::impl> self, std::shared_ptr<op_cancel> oc) {
    auto& s = *self;
    request treq;
    origin o = s.rc.url.oauth_server();
    treq.method = http_method::post;
    treq.target = o.to_string() + s.rc.url.oauth_token_path();
    treq.body = "grant_type=client_credentials&client_id=" + url_encode(s.rc.oauth.client_id) +
                "&client_secret=" + url_encode(s.rc.oauth.client_secret.reveal());
    treq.content_type = "application/x-www-form-urlencoded";
    treq.idempotent = true;  // issuing a token changes nothing on the server
    treq.authenticate = false;
    send_outcome out = co_await run_request(self, std::move(treq), oc);
    s.token_diag = out.resp.diag;
    if (out.ec) {
        if (out.ec == errc::cancelled) co_return out.ec;
        s.token_diag.detail = "OAuth token request failed: " + out.ec.message() +
                              (s.token_diag.detail.empty() ? "" : "; " + s.token_diag.detail);
        co_return errc::oauth_failed;
    }
    error_code json_ec;
    json::value v = json::parse(out.resp.body, json_ec);
    const json::value* tok = (!json_ec && v.is_object()) ? v.get_object().if_contains("access_token") : nullptr;
    if (!tok || !tok->is_string() || tok->get_string().empty()) {
        s.token_diag.detail = "the token endpoint answered without an access_token";
        s.token_diag.body_excerpt = s.mask(excerpt(out.resp.body, 256));
        co_return errc::oauth_failed;
    }
    if (!header_value_ok(tok->get_string())) {
        s.token_diag.detail = "the token endpoint issued an access_token with control characters (CR, LF, ...): "
                              "refused, it would inject HTTP headers";
        co_return errc::oauth_failed;
    }
    s.access_token = std::string(tok->get_string());
    std::int64_t lifetime = 300;  // Keycloak's default when expires_in is absent
    if (auto* e = v.get_object().if_contains("expires_in"); e && e->is_number()) {
        error_code nec;
        auto n = e->to_number<std::int64_t>(nec);
        if (!nec && n > 0) lifetime = n;
    }
    auto life = std::chrono::seconds(lifetime);
    auto margin = std::min<clock_type::duration>(s.cfg.token_refresh_margin, life / 2);
    s.token_expiry = s.timer->now() + life - margin;
    ++s.stats.token_fetches;
    s.cfg.log.log(log_level::debug, "OAuth token obtained, valid for " + std::to_string(lifetime) + " s");
    co_return error_code{};
}

// Makes sure a valid token is cached; concurrent callers share one fetch.
}  // namespace

asio::awaitable<error_code> ensure_token(std::shared_ptr<client::impl> self, std::shared_ptr<op_cancel> oc) {
    auto& s = *self;
    for (int round = 0; round < 3; ++round) {
        if (!s.access_token.empty() && s.timer->now() < s.token_expiry) co_return error_code{};
        if (s.fetching) {
            auto enqueue = [&s](auto handler) { s.token_waiters.emplace_back(std::move(handler)); };
            auto token = asio::as_tuple(asio::use_awaitable);
            auto [ec] = co_await asio::async_initiate<decltype(token), void(error_code)>(enqueue, token);
            if (oc->cancelled) co_return errc::cancelled;
            if (ec && ec != errc::cancelled) co_return ec;  // the shared fetch failed
            continue;
        }
        s.fetching = true;
        s.access_token.clear();
        error_code ec = co_await fetch_token(self, oc);
        s.fetching = false;
        auto waiters = std::move(s.token_waiters);
        s.token_waiters.clear();
        for (auto& w : waiters) asio::post(s.ex, asio::append(std::move(w), ec));
        if (ec) co_return ec;
    }
    co_return errc::oauth_failed;
}


}  // namespace cspark::detail
