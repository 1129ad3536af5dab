// `cspark-impex doctor`: the checks that touch the network, in order, each
// timed; read-only (GETs of the tenant's job lists, and an OAuth token).
#include "cli/doctor.hpp"

#include "core/proxy.hpp"
#include "core/text.hpp"

#include <cspark/client.hpp>
#include <cspark/retry.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <openssl/ssl.h>

#include <cstdio>
#include <cstdlib>
#include <memory>

namespace cspark::cli {
namespace asio = boost::asio;
namespace json = boost::json;
using namespace asio::experimental::awaitable_operators;
using asio::ip::tcp;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
constexpr auto step_timeout = std::chrono::seconds(10);

// A check timed from its start.
struct timed {
    doctor_check& c;
    steady_clock::time_point t0 = steady_clock::now();
    ~timed() { c.took = std::chrono::duration_cast<milliseconds>(steady_clock::now() - t0); }
};

std::string where_credentials(const connection_options& o, auth_kind kind) {
    switch (kind) {
    case auth_kind::api_key: return "API key from " + (o.api_key_env.empty() ? std::string("CSPARK_API_KEY") : o.api_key_env);
    case auth_kind::bearer: return "bearer token from " + (o.token_env.empty() ? std::string("CSPARK_BEARER_TOKEN") : o.token_env);
    case auth_kind::oauth:
        return "OAuth client credentials from " +
               (o.oauth_file.empty() ? std::string("CSPARK_CLIENT_ID / CSPARK_CLIENT_SECRET / CSPARK_OAUTH_PATH") : o.oauth_file);
    case auth_kind::none: break;
    }
    return "none";
}

std::string auth_word(auth_kind k) {
    return k == auth_kind::api_key ? "API key" : k == auth_kind::oauth ? "OAuth client" : "bearer token";
}

// One side's checks, in order; each a function of its own, sharing what the
// earlier ones found (the configuration, the proxy, the connected socket).
class side_probe {
public:
    side_probe(asio::io_context& io, const output& out, connection_options o) : io_(io), out_(out), o_(std::move(o)), socket_(io) {}

    asio::awaitable<std::vector<doctor_check>> run() {
        checks_.push_back(check_url());
        if (!rc_) co_return checks_;
        checks_.push_back(check_credentials());
        auto routes = detail::make_proxy_routes(cfg_.proxy ? detail::one_proxy(*cfg_.proxy, cfg_.use_environment)
                                                           : proxy_from_environment());
        proxy_ = routes.for_origin(rc_->url.server);
        auto resolved = co_await check_resolve();
        checks_.push_back(resolved);
        auto connected = co_await check_connect(resolved.ok);
        checks_.push_back(connected);
        const auto& server = rc_->url.server;
        if (proxy_ && server.tls && connected.ok) {
            auto tunnel = co_await check_tunnel();
            checks_.push_back(tunnel);
            connected.ok = tunnel.ok;
        }
        bool reachable = connected.ok;
        if (server.tls) {
            auto tls = co_await check_tls(connected.ok);
            checks_.push_back(tls);
            reachable = reachable && tls.ok;
        }
        error_code ignored;
        socket_.close(ignored);
        if (!reachable || !full_) co_return checks_;
        co_await check_tenant();
        co_return checks_;
    }

private:
    // 1. The base URL, whatever the credentials.
    doctor_check check_url() {
        doctor_check url{.name = "base URL", .exit = usage};
        timed t{url};
        connection_options no_creds = o_;
        no_creds.api_key_env.clear();
        no_creds.token_env.clear();
        no_creds.oauth_file.clear();
        auto probe = to_config(no_creds);
        probe.api_key = "open";
        error_code ec;
        diagnostics d;
        auto r = resolve_config(probe, ec, d);
        if (!r) {
            url.ok = false;
            url.found = ec.message() + (d.detail.empty() ? "" : ": " + d.detail);
            url.fix = "give --base-url https://excel.{env}.coherent.global/{tenant} (or --env and --tenant, or CSPARK_BASE_URL)";
            return url;
        }
        url.found = r->url.to_string() + ": tenant '" + r->url.tenant + "'" +
                    (r->url.env.empty() ? std::string(" (not a coherent.global host)") : ", environment '" + r->url.env + "'");
        rc_ = r;
        return url;
    }

    // 2. Credentials: there, and which.
    doctor_check check_credentials() {
        doctor_check creds{.name = "credentials", .exit = denied};
        timed t{creds};
        try {
            cfg_ = to_config(o_);
            error_code ec;
            diagnostics d;
            full_ = resolve_config(cfg_, ec, d);
            if (!full_) throw spark_error(ec, d);
            creds.found = where_credentials(o_, full_->auth);
        } catch (const spark_error& e) {
            creds.ok = false;
            creds.found = e.diag().detail.empty() ? e.code().message() : e.diag().detail;
            creds.fix = "set the variable (or give --api-key-env / --token-env / --oauth-file naming where they are)";
        }
        return creds;
    }

    // 3. The host (or the proxy in use) resolves.
    asio::awaitable<doctor_check> check_resolve() {
        doctor_check resolve{.name = "resolve"};
        timed t{resolve};
        const auto& server = rc_->url.server;
        std::string host = proxy_ ? proxy_->host : server.host;
        std::uint16_t port = proxy_ ? proxy_->port : server.port;
        tcp::resolver r(io_);
        auto [ec, res] = co_await r.async_resolve(host, std::to_string(port), use_tuple);
        if (ec || res.empty()) {
            resolve.ok = false;
            resolve.found = "'" + host + "' does not resolve: " + ec.message();
            resolve.fix = proxy_ ? "check the proxy's host name (" + proxy_->display + ")" : "check the host in the base URL, and DNS";
        } else {
            addresses_ = res;
            resolve.found = host + " -> " + res.begin()->endpoint().address().to_string() +
                            (res.size() > 1 ? " (+" + std::to_string(res.size() - 1) + " more)" : std::string());
        }
        co_return resolve;
    }

    // 4. TCP to it, within step_timeout.
    asio::awaitable<doctor_check> check_connect(bool resolved) {
        doctor_check connect{.name = "connect"};
        if (!resolved) {
            connect.skipped = true;
            co_return connect;
        }
        timed t{connect};
        asio::steady_timer timer(io_, step_timeout);
        auto done = co_await (asio::async_connect(socket_, addresses_, use_tuple) || timer.async_wait(use_tuple));
        if (done.index() == 1) {
            connect.ok = false;
            connect.found = "no answer within " + std::to_string(step_timeout.count()) + " s";
        } else if (auto [ec, ep] = std::get<0>(done); ec) {
            connect.ok = false;
            connect.found = ec.message();
        } else {
            connect.found = "TCP to " + ep.address().to_string() + ":" + std::to_string(ep.port()) +
                            (proxy_ ? " (the proxy " + proxy_->display + ")" : std::string());
        }
        if (!connect.ok)
            connect.fix = proxy_ ? "the proxy " + proxy_->display + " does not accept connections: check --proxy / HTTPS_PROXY"
                                 : "a firewall, or the wrong port? Spark listens on 443";
        co_return connect;
    }

    // 5. Through a proxy: its CONNECT.
    asio::awaitable<doctor_check> check_tunnel() {
        doctor_check tunnel{.name = "proxy tunnel"};
        timed t{tunnel};
        const auto& server = rc_->url.server;
        std::string hostport = detail::bracketed_host(server.host) + ":" + std::to_string(server.port);
        std::string req = "CONNECT " + hostport + " HTTP/1.1\r\nHost: " + hostport + "\r\n" +
                          (proxy_->authorization.empty() ? std::string() : "Proxy-Authorization: " + proxy_->authorization + "\r\n") +
                          "\r\n";
        auto [wec, wn] = co_await asio::async_write(socket_, asio::buffer(req), use_tuple);
        asio::streambuf head;
        auto [rec, rn] = wec ? std::tuple{wec, std::size_t(0)} : co_await asio::async_read_until(socket_, head, "\r\n\r\n", use_tuple);
        std::string line;
        std::istream in(&head);
        std::getline(in, line);
        if (wec || rec || line.find(" 200") == std::string::npos) {
            tunnel.ok = false;
            tunnel.found = wec || rec ? (wec ? wec : rec).message() : "the proxy answered '" + std::string(detail::trim(line)) + "'";
            tunnel.fix = line.find(" 407") != std::string::npos ? "the proxy wants credentials: http://user:password@host:port"
                                                                 : "the proxy refuses to reach " + hostport;
        } else {
            tunnel.found = "CONNECT " + hostport + " through " + proxy_->display;
        }
        co_return tunnel;
    }

    // 6. TLS: the handshake, then the certificate judged.
    asio::awaitable<doctor_check> check_tls(bool connected) {
        doctor_check tls{.name = "TLS"};
        if (!connected) {
            tls.skipped = true;
            co_return tls;
        }
        timed t{tls};
        const auto& server = rc_->url.server;
        asio::ssl::context ctx(asio::ssl::context::tls_client);
        error_code ignored;
        ctx.set_default_verify_paths(ignored);
        if (!o_.ca_file.empty()) ctx.load_verify_file(o_.ca_file, ignored);
        ctx.set_verify_mode(asio::ssl::verify_none);  // judged below, with the reason
        asio::ssl::stream<tcp::socket&> stream(socket_, ctx);
        SSL_set_tlsext_host_name(stream.native_handle(), server.host.c_str());
        asio::steady_timer timer(io_, step_timeout);
        auto done = co_await (stream.async_handshake(asio::ssl::stream_base::client, use_tuple) || timer.async_wait(use_tuple));
        if (done.index() == 1 || std::get<0>(std::get<0>(done))) {
            tls.ok = false;
            tls.found = done.index() == 1 ? "no handshake within 10 s" : std::get<0>(std::get<0>(done)).message();
            tls.fix = "is this port TLS? Spark's are; a proxy that intercepts TLS needs its CA (--ca-file)";
            co_return tls;
        }
        auto judged = judge_certificate(stream.native_handle(), server.host, o_.insecure);
        tls.ok = judged.ok;
        tls.found = judged.found;
        tls.fix = judged.fix;
        co_return tls;
    }

    // 7-10. The credentials against the tenant: read-only calls.
    asio::awaitable<void> check_tenant() {
        cfg_.max_retries = 0;
        cfg_.log = out_.log();
        cfg_.trace = out_.trace;
        client c(io_.get_executor(), cfg_);
        if (full_->auth == auth_kind::oauth) {
            auto token = co_await check_token(c);
            checks_.push_back(token);
            if (!token.ok) co_return;
        }
        if (full_->auth == auth_kind::bearer) {
            doctor_check bearer{.name = "bearer token", .exit = denied};
            timed t{bearer};
            auto judged = bearer_check(read_jwt(full_->bearer_token.reveal()), rc_->url.tenant, std::chrono::system_clock::now());
            bearer.ok = judged.ok;
            bearer.found = judged.found;
            bearer.fix = judged.fix;
            checks_.push_back(bearer);
        }
        std::optional<std::chrono::system_clock::time_point> server_date;
        for (const char* kind : {"export", "import"}) {
            auto read = co_await check_api(c, kind, server_date);
            checks_.push_back(read);
        }
        checks_.push_back(clock_check(server_date, std::chrono::system_clock::now()));
    }

    // An OAuth client's token from the tenant's Keycloak.
    asio::awaitable<doctor_check> check_token(client& c) {
        doctor_check token{.name = "OAuth token", .exit = denied};
        timed t{token};
        request req;
        req.method = http_method::post;
        auto oauth = rc_->url.oauth_server();
        req.target = oauth.to_string() + rc_->url.oauth_token_path();
        req.content_type = "application/x-www-form-urlencoded";
        req.body = "grant_type=client_credentials&client_id=" + detail::url_encode(full_->oauth.client_id) +
                   "&client_secret=" + detail::url_encode(full_->oauth.client_secret.reveal());
        req.authenticate = false;
        auto [ec, resp] = co_await c.async_send(req, use_tuple);
        if (ec) {
            token.ok = false;
            token.found = oauth.to_string() + " answered " + (resp.diag.http_status ? std::to_string(resp.diag.http_status) : ec.message());
            token.fix = resp.diag.http_status == 401 || resp.diag.http_status == 400
                            ? "the client id or secret is wrong, or the client is not of tenant '" + rc_->url.tenant + "'"
                            : "the token endpoint is not reachable: " + ec.message();
            co_return token;
        }
        error_code jec;
        auto doc = json::parse(resp.body, jec);
        const auto* life = !jec && doc.is_object() ? doc.get_object().if_contains("expires_in") : nullptr;
        token.found = "issued by " + oauth.to_string() +
                      (life && life->is_number() ? ", lives " + std::to_string(life->to_number<long long>()) + " s" : std::string());
        co_return token;
    }

    // GET {kind}/status with the tenant's credentials; the first answer's Date.
    asio::awaitable<doctor_check> check_api(client& c, std::string kind,
                                            std::optional<std::chrono::system_clock::time_point>& server_date) {
        doctor_check read{.name = kind + " API"};
        timed t{read};
        request req;
        req.target = kind + "/status";
        auto [ec, resp] = co_await c.async_send(req, use_tuple);
        int status = ec ? resp.diag.http_status : resp.status;
        auto judged = read_check(read.name, status, resp.diag.api_code, auth_word(full_->auth), rc_->url.tenant);
        read.ok = judged.ok;
        read.exit = judged.exit;
        read.found = "GET " + kind + "/status: " + judged.found;
        read.fix = judged.fix;
        if (!ec && !server_date) server_date = parse_http_date(resp.header("date"));
        co_return read;
    }

    asio::io_context& io_;
    const output& out_;
    connection_options o_;
    client_config cfg_;
    std::optional<resolved_config> rc_, full_;
    const detail::proxy_endpoint* proxy_ = nullptr;
    tcp::resolver::results_type addresses_;
    tcp::socket socket_;
    std::vector<doctor_check> checks_;
};

void print(const output& out, const std::string& side, const std::vector<doctor_check>& checks) {
    if (out.json) return;
    if (!side.empty()) std::printf("%s:\n", side.c_str());
    for (const auto& c : checks) {
        const char* mark = c.skipped ? "skip" : c.ok ? " ok " : "FAIL";
        std::printf("  [%s] %-13s %s (%lld ms)\n", mark, c.name.c_str(), c.found.c_str(), static_cast<long long>(c.took.count()));
        if (!c.fix.empty() && !c.skipped) std::printf("         %s %s\n", c.ok ? "note:" : "fix: ", c.fix.c_str());
    }
}

json::value to_json(const std::vector<doctor_check>& checks) {
    json::array a;
    for (const auto& c : checks)
        a.push_back(json::object{{"name", c.name}, {"ok", c.ok}, {"skipped", c.skipped}, {"found", c.found}, {"fix", c.fix},
                                 {"ms", c.took.count()}});
    return a;
}

}  // namespace

int doctor(const connection_options& conn, const std::vector<std::pair<std::string, connection_options>>& sides,
           const output& out) {
    auto todo = sides.empty() ? std::vector<std::pair<std::string, connection_options>>{{"", conn}} : sides;
    asio::io_context io;
    json::array docs;
    std::vector<doctor_check> all;
    for (const auto& [name, opts] : todo) {
        std::vector<doctor_check> checks;
        side_probe probe(io, out, opts);
        io.restart();
        auto got = interruptible(io, probe.run());
        if (got.value) checks = std::move(*got.value);
        if (got.interrupted) return interrupted;
        if (got.failure) {
            try {
                std::rethrow_exception(got.failure);
            } catch (const std::exception& x) {
                checks.push_back({.name = "doctor", .ok = false, .found = x.what()});
            }
        }
        print(out, name, checks);
        docs.push_back(json::object{{"side", name}, {"checks", to_json(checks)}});
        all.insert(all.end(), checks.begin(), checks.end());
    }
    int rc = doctor_exit(all);
    out.result(json::object{{"ok", rc == ok}, {"sides", docs}});
    if (!out.json) std::printf("%s\n", rc == ok ? "all checks passed" : "some checks failed (see fix:)");
    return rc;
}

}  // namespace cspark::cli
