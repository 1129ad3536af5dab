// The transport's connecting half: TLS setup and verification, connecting
// with deadlines, and the per-origin pools connections come from.
#include "http/transport_impl.hpp"

#include <boost/asio/read_until.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>

namespace cspark {

transport::transport(asio::any_io_executor ex, transport_config cfg) : impl_(std::make_unique<impl>()) {
    impl_->ex = asio::make_strand(std::move(ex));
    impl_->cfg = std::move(cfg);
    impl_->proxies = detail::make_proxy_routes(impl_->cfg.proxy ? *impl_->cfg.proxy : proxy_from_environment());
    // TLS asked for explicitly: set it up now, so a bad CA file fails here.
    if (impl_->cfg.tls.insecure || !impl_->cfg.tls.ca_file.empty()) impl_->tls();
}

ssl::context& transport::impl::tls() {
    if (tls_ctx) return *tls_ctx;
    auto& ctx = tls_ctx.emplace(ssl::context::tls_client);
    ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                    ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    if (cfg.tls.insecure) {
        ctx.set_verify_mode(ssl::verify_none);
        cfg.log.log(log_level::warn, "TLS certificate verification is disabled (insecure)");
    } else {
        ctx.set_verify_mode(ssl::verify_peer);
        error_code ec;
        ctx.set_default_verify_paths(ec);  // a machine without a CA store can still use ca_file
        if (!cfg.tls.ca_file.empty()) {
            ctx.load_verify_file(cfg.tls.ca_file, ec);
            if (ec) {
                tls_ctx.reset();
                diagnostics d;
                d.detail = "cannot load CA file '" + cfg.tls.ca_file + "': " + ec.message();
                throw spark_error(errc::file_error, std::move(d));
            }
        }
    }
    return ctx;
}

transport::~transport() = default;
transport_stats transport::stats() const noexcept { return impl_->stats.snapshot(); }
const transport_config& transport::config() const noexcept { return impl_->cfg; }
asio::any_io_executor transport::get_executor() const noexcept { return impl_->ex; }

void transport::close_idle() {
    for (auto& [key, hp] : impl_->pools) {
        for (auto& c : hp.idle) {
            error_code ignored;
            c->stream.tcp().socket().close(ignored);
            --hp.open;
            --impl_->stats.open_connections;
        }
        hp.idle.clear();
        hp.wake_one();
    }
}

asio::awaitable<std::unique_ptr<connection>> transport::impl::connect(const origin& o,
                                                                      clock_type::time_point deadline,
                                                                      detail::op_cancel& oc,
                                                                      detail::wire_result& res) {
    auto connect_deadline = std::min(deadline, clock_type::now() + cfg.connect_timeout);
    bool deadline_binds = connect_deadline == deadline;
    auto timed_out = [&] { return deadline_binds ? errc::request_timeout : errc::connect_timeout; };

    // Through a proxy, the TCP connection goes to the proxy.
    const detail::proxy_endpoint* px = proxies.for_origin(o);
    origin hop = px ? origin{.tls = false, .host = px->host, .port = px->port} : o;
    std::string where = px ? "proxy " + px->display + " (for " + o.to_string() + ")" : o.to_string();
    auto endpoints = co_await resolve(hop, connect_deadline, timed_out(), oc, res);
    if (!endpoints) {
        if (px && !res.detail.empty()) res.detail += " (the proxy for " + o.to_string() + ")";
        co_return nullptr;
    }

    auto c = std::make_unique<connection>(ex, o.tls ? &tls() : nullptr, cfg.header_limit, cfg.chunk_size);
    auto* raw = c.get();
    oc.hook = [raw] { raw->stream.tcp().close(); };
    c->stream.tcp().expires_at(connect_deadline);
    auto [cec, ep] = co_await c->stream.tcp().async_connect(*endpoints, use_tuple);
    oc.hook = nullptr;
    if (oc.cancelled) {
        res.ec = errc::cancelled;
        co_return nullptr;
    }
    if (cec) {
        if (cec == beast::error::timeout) {
            res.ec = timed_out();
            res.detail = "connecting to " + where + " timed out";
        } else if (cec == asio::error::no_descriptors) {
            res.ec = errc::too_many_open_files;
            res.detail = "connecting to " + where + ": " + cec.message();
        } else {
            res.ec = errc::connect_failed;
            res.detail = "connecting to " + where + ": " + cec.message();
        }
        co_return nullptr;
    }
    error_code ignored;
    c->stream.tcp().socket().set_option(tcp::no_delay(true), ignored);
    ++stats.connections_opened;

    if (px && !o.tls) c->forward_proxy = px;
    if (px && o.tls) {
        bool open = co_await tunnel(*c, o, *px, connect_deadline, oc, res);  // a local, not in the if (g++ 12)
        if (!open) co_return nullptr;
    }
    if (o.tls) {
        bool shook = co_await handshake(*c, o, deadline, oc, res);  // a local, not in the if (g++ 12)
        if (!shook) co_return nullptr;
    }
    co_return c;
}

// "CONNECT host:port" and the proxy's answer, within the connect deadline.
// Only the proxy's own credentials are sent; nothing of the request is.
asio::awaitable<bool> transport::impl::tunnel(connection& c, const origin& o, const detail::proxy_endpoint& px,
                                              clock_type::time_point deadline, detail::op_cancel& oc,
                                              detail::wire_result& res) {
    std::string authority = detail::bracketed_host(o.host) + ":" + std::to_string(o.port);
    std::string head = "CONNECT " + authority + " HTTP/1.1\r\nHost: " + authority + "\r\n";
    if (!px.authorization.empty()) head += "Proxy-Authorization: " + px.authorization + "\r\n";
    head += "\r\n";
    auto* raw = &c;
    c.stream.tcp().expires_at(deadline);
    oc.hook = [raw] { raw->stream.tcp().close(); };
    auto [wec, written] = co_await asio::async_write(c.stream.tcp(), asio::buffer(head), use_tuple);
    std::string reply;
    error_code rec = wec;
    if (!wec) {
        auto [ec, n] = co_await asio::async_read_until(c.stream.tcp(), asio::dynamic_buffer(reply, 16 * 1024), "\r\n\r\n", use_tuple);
        rec = ec;
    }
    oc.hook = nullptr;
    if (oc.cancelled) {
        res.ec = errc::cancelled;
        co_return false;
    }
    std::string what = "proxy " + px.display + " tunnel to " + authority;
    if (rec) {
        res.ec = rec == beast::error::timeout ? errc::connect_timeout : errc::connect_failed;
        res.detail = what + ": " + (rec == asio::error::not_found ? std::string("answer header too large") : rec.message());
        co_return false;
    }
    // "HTTP/1.1 200 Connection established"
    std::string_view line(reply.data(), reply.find("\r\n"));
    auto sp = line.find(' ');
    int status = 0;
    if (line.starts_with("HTTP/1.") && sp != std::string_view::npos && line.size() >= sp + 4)
        for (char ch : line.substr(sp + 1, 3)) status = ch >= '0' && ch <= '9' ? status * 10 + (ch - '0') : -10000;
    if (status >= 200 && status < 300) {
        if (reply.size() > reply.find("\r\n\r\n") + 4) {  // bytes after the answer: not a tunnel we can use
            res.ec = errc::connect_failed;
            res.detail = what + ": unexpected bytes after the proxy's answer";
            co_return false;
        }
        co_return true;
    }
    res.ec = status == 407 || status == 403 ? errc::proxy_refused : errc::connect_failed;  // 5xx: the proxy could not reach it
    res.detail = what + " refused: " + detail::excerpt(line, 200) +
                 (status == 407 ? (px.authorization.empty() ? " (the proxy wants credentials: http://user:password@host:port)"
                                                            : " (the proxy rejected the credentials in its URL)")
                                : "");
    c.stream.tcp().close();
    co_return false;
}

// Resolves `o` (not for IP literals) within the connect deadline.
asio::awaitable<std::optional<tcp::resolver::results_type>> transport::impl::resolve(const origin& o,
                                                                                     clock_type::time_point connect_deadline,
                                                                                     errc timed_out, detail::op_cancel& oc,
                                                                                     detail::wire_result& res) {
    if (is_ip_literal(o.host))
        co_return tcp::resolver::results_type::create(tcp::endpoint(asio::ip::make_address(o.host), o.port), o.host,
                                                      std::to_string(o.port));
    struct resolve_state {
        tcp::resolver resolver;
        asio::steady_timer guard;
        bool expired = false;
    };
    auto st = std::make_shared<resolve_state>(resolve_state{tcp::resolver(ex), asio::steady_timer(ex), false});
    st->guard.expires_at(connect_deadline);
    st->guard.async_wait([st](error_code e) {
        if (!e) {
            st->expired = true;
            st->resolver.cancel();
        }
    });
    oc.hook = [st] { st->resolver.cancel(); };
    auto [ec, results] = co_await st->resolver.async_resolve(o.host, std::to_string(o.port), use_tuple);
    oc.hook = nullptr;
    st->guard.cancel();
    if (oc.cancelled) {
        res.ec = errc::cancelled;
    } else if (st->expired) {
        res.ec = timed_out;
        res.detail = "resolving '" + o.host + "' timed out";
    } else if (ec) {
        res.ec = errc::resolve_failed;
        res.detail = "cannot resolve '" + o.host + "': " + ec.message();
    } else {
        co_return std::move(results);
    }
    co_return std::nullopt;
}

// TLS: SNI, host name or IP verification (unless insecure), the handshake
// within its own timeout.
asio::awaitable<bool> transport::impl::handshake(connection& c, const origin& o, clock_type::time_point deadline,
                                                 detail::op_cancel& oc, detail::wire_result& res) {
    auto* raw = &c;
    SSL* ssl_handle = c.stream.tls().native_handle();
    bool ip = is_ip_literal(o.host);
    if (!ip) SSL_set_tlsext_host_name(ssl_handle, o.host.c_str());
    if (!cfg.tls.insecure) {
        if (ip) X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_handle), o.host.c_str());
        else SSL_set1_host(ssl_handle, o.host.c_str());
    }
    auto hs_deadline = std::min(deadline, clock_type::now() + cfg.handshake_timeout);
    bool hs_deadline_binds = hs_deadline == deadline;
    c.stream.tcp().expires_at(hs_deadline);
    oc.hook = [raw] { raw->stream.tcp().close(); };
    auto [head_ec] = co_await c.stream.tls().async_handshake(ssl::stream_base::client, use_tuple);
    oc.hook = nullptr;
    if (oc.cancelled) {
        res.ec = errc::cancelled;
        co_return false;
    }
    if (!head_ec) co_return true;
    long verify = SSL_get_verify_result(ssl_handle);
    if (head_ec == beast::error::timeout) {
        res.ec = hs_deadline_binds ? errc::request_timeout : errc::tls_handshake_timeout;
        res.detail = "TLS handshake with " + o.to_string() + " timed out";
    } else if (verify != X509_V_OK) {
        res.ec = errc::tls_verify_failed;
        res.detail = "certificate of " + o.to_string() + " rejected: " + X509_verify_cert_error_string(verify);
    } else {
        res.ec = errc::tls_handshake_failed;
        res.detail = "TLS handshake with " + o.to_string() + " failed: " + head_ec.message();
    }
    c.stream.tcp().close();
    co_return false;
}

asio::awaitable<std::unique_ptr<connection>> transport::impl::acquire(const origin& o, const std::string& key,
                                                                      clock_type::time_point deadline,
                                                                      detail::op_cancel& oc,
                                                                      detail::wire_result& res) {
    // Bounded: each pass either returns or waits for a slot; the wait itself is
    // bounded by the request deadline.
    for (;;) {
        auto& hp = pools[key];  // element references survive rehashing
        while (!hp.idle.empty()) {
            auto c = std::move(hp.idle.back());
            hp.idle.pop_back();
            if (clock_type::now() - c->idle_since >= cfg.keep_alive || !still_open(*c)) {
                error_code ignored;
                c->stream.tcp().socket().close(ignored);
                --hp.open;
                --stats.open_connections;
                ++stats.stale_reconnects;
                continue;
            }
            c->reused = true;
            co_return c;
        }
        if (hp.open < std::max<std::size_t>(cfg.max_connections_per_host, 1)) {
            ++hp.open;
            ++stats.open_connections;
            auto c = co_await connect(o, deadline, oc, res);
            if (!c) {
                --hp.open;
                --stats.open_connections;
                hp.wake_one();
            }
            co_return c;
        }
        auto timer = std::make_shared<asio::steady_timer>(ex, deadline);
        hp.waiters.push_back(timer);
        oc.hook = [timer] { timer->cancel(); };
        auto [ec] = co_await timer->async_wait(use_tuple);
        oc.hook = nullptr;
        if (oc.cancelled) {
            hp.forget(timer);
            res.ec = errc::cancelled;
            co_return nullptr;
        }
        if (!ec) {
            hp.forget(timer);
            res.ec = errc::request_timeout;
            res.detail = "no free connection to " + o.to_string() + " before the request timeout (" +
                         std::to_string(hp.open) + " busy)";
            co_return nullptr;
        }
    }
}

}  // namespace cspark
