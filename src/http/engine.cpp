// Connection pool and the HTTP/1.1 exchange: the only client file that
// instantiates Beast (compile cost: see shared/toolchain.md).
#include "http/engine.hpp"
#include "http/stream.hpp"

#include "core/text.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <deque>
#include <optional>
#include <sys/socket.h>
#include <unordered_map>
#include <vector>

namespace cspark {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using asio::ip::tcp;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

struct connection {
    detail::any_stream stream;
    beast::flat_buffer buffer;
    std::vector<char> chunk;
    clock_type::time_point idle_since{};
    bool reused = false;

    connection(asio::any_io_executor ex, ssl::context* ctx, std::size_t header_limit, std::size_t chunk_size)
        : stream(ctx ? detail::any_stream(ex, *ctx) : detail::any_stream(ex)),
          buffer(header_limit + chunk_size),
          chunk(chunk_size) {
        // Beast reads max(512, free capacity) bytes at a time: without room
        // reserved up front a body streams in 512-byte reads.
        buffer.reserve(chunk_size);
    }
};

struct host_pool {
    std::vector<std::unique_ptr<connection>> idle;
    std::size_t open = 0;  // idle + busy + connecting
    std::deque<std::shared_ptr<asio::steady_timer>> waiters;

    void wake_one() {
        while (!waiters.empty()) {
            auto t = std::move(waiters.front());
            waiters.pop_front();
            if (t->cancel() > 0) return;
        }
    }
    void forget(const std::shared_ptr<asio::steady_timer>& t) { std::erase(waiters, t); }
};

bool is_ip_literal(const std::string& host) {
    error_code ec;
    asio::ip::make_address(host, ec);
    return !ec;
}

// A kept-alive connection the server has closed (or that holds stray bytes)
// must not carry the next request: a 0-byte peek means FIN, data means junk.
bool still_open(connection& c) {
    if (c.buffer.size() != 0) return false;
    char b;
    ssize_t n = ::recv(c.stream.tcp().socket().native_handle(), &b, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n >= 0) return false;
    return errno == EAGAIN || errno == EWOULDBLOCK;
}

http::verb to_verb(http_method m) {
    switch (m) {
    case http_method::get: return http::verb::get;
    case http_method::head: return http::verb::head;
    case http_method::post: return http::verb::post;
    case http_method::put: return http::verb::put;
    case http_method::patch: return http::verb::patch;
    case http_method::delete_: return http::verb::delete_;
    }
    return http::verb::get;
}

}  // namespace

struct transport::impl {
    asio::any_io_executor ex;
    transport_config cfg;
    ssl::context tls_ctx{ssl::context::tls_client};
    std::unordered_map<std::string, host_pool> pools;
    transport_stats stats;

    // Arms the stream's timer for the next I/O step: the request deadline or
    // the idle timeout, whichever comes first. Returns true when the deadline binds.
    bool arm(connection& c, clock_type::time_point deadline) {
        auto idle_until = clock_type::now() + cfg.idle_timeout;
        bool deadline_binds = deadline <= idle_until;
        c.stream.tcp().expires_at(deadline_binds ? deadline : idle_until);
        return deadline_binds;
    }

    void note_buffer(const connection& c) {
        stats.peak_buffer_bytes = std::max(stats.peak_buffer_bytes, c.buffer.capacity() + c.chunk.size());
    }

    void release(const std::string& key, std::unique_ptr<connection> c, bool keep) {
        auto& hp = pools[key];
        if (keep && cfg.keep_alive.count() > 0) {
            c->idle_since = clock_type::now();
            c->stream.tcp().expires_never();
            hp.idle.push_back(std::move(c));
        } else {
            error_code ignored;
            c->stream.tcp().socket().close(ignored);
            --hp.open;
            --stats.open_connections;
        }
        hp.wake_one();
    }

    asio::awaitable<std::unique_ptr<connection>> connect(const origin& o, clock_type::time_point deadline,
                                                         detail::op_cancel& oc, detail::wire_result& res);
    asio::awaitable<std::unique_ptr<connection>> acquire(const origin& o, const std::string& key,
                                                         clock_type::time_point deadline, detail::op_cancel& oc,
                                                         detail::wire_result& res);
    asio::awaitable<bool> run(connection& c, const detail::wire_request& r, detail::wire_result& res,
                              detail::op_cancel& oc);
};

transport::transport(asio::any_io_executor ex, transport_config cfg) : impl_(std::make_unique<impl>()) {
    impl_->ex = std::move(ex);
    impl_->cfg = std::move(cfg);
    auto& ctx = impl_->tls_ctx;
    ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                    ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    if (impl_->cfg.tls.insecure) {
        ctx.set_verify_mode(ssl::verify_none);
        impl_->cfg.log.log(log_level::warn, "TLS certificate verification is disabled (insecure)");
    } else {
        ctx.set_verify_mode(ssl::verify_peer);
        error_code ec;
        ctx.set_default_verify_paths(ec);  // a machine without a CA store can still use ca_file
        if (!impl_->cfg.tls.ca_file.empty()) {
            ctx.load_verify_file(impl_->cfg.tls.ca_file, ec);
            if (ec) {
                diagnostics d;
                d.detail = "cannot load CA file '" + impl_->cfg.tls.ca_file + "': " + ec.message();
                throw spark_error(errc::file_error, std::move(d));
            }
        }
    }
}

transport::~transport() = default;
transport_stats transport::stats() const noexcept { return impl_->stats; }
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

    // Resolve (skipped for IP literals), bounded by the connect deadline.
    tcp::resolver::results_type endpoints;
    if (is_ip_literal(o.host)) {
        endpoints = tcp::resolver::results_type::create(tcp::endpoint(asio::ip::make_address(o.host), o.port),
                                                        o.host, std::to_string(o.port));
    } else {
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
            co_return nullptr;
        }
        if (st->expired) {
            res.ec = timed_out();
            res.detail = "resolving '" + o.host + "' timed out";
            co_return nullptr;
        }
        if (ec) {
            res.ec = errc::resolve_failed;
            res.detail = "cannot resolve '" + o.host + "': " + ec.message();
            co_return nullptr;
        }
        endpoints = std::move(results);
    }

    auto c = std::make_unique<connection>(ex, o.tls ? &tls_ctx : nullptr, cfg.header_limit, cfg.chunk_size);
    auto* raw = c.get();
    oc.hook = [raw] { raw->stream.tcp().close(); };
    c->stream.tcp().expires_at(connect_deadline);
    auto [cec, ep] = co_await c->stream.tcp().async_connect(endpoints, use_tuple);
    oc.hook = nullptr;
    if (oc.cancelled) {
        res.ec = errc::cancelled;
        co_return nullptr;
    }
    if (cec) {
        if (cec == beast::error::timeout) {
            res.ec = timed_out();
            res.detail = "connecting to " + o.to_string() + " timed out";
        } else if (cec == asio::error::no_descriptors) {
            res.ec = errc::too_many_open_files;
            res.detail = "connecting to " + o.to_string() + ": " + cec.message();
        } else {
            res.ec = errc::connect_failed;
            res.detail = "connecting to " + o.to_string() + ": " + cec.message();
        }
        co_return nullptr;
    }
    error_code ignored;
    c->stream.tcp().socket().set_option(tcp::no_delay(true), ignored);
    ++stats.connections_opened;

    if (o.tls) {
        SSL* ssl_handle = c->stream.tls().native_handle();
        bool ip = is_ip_literal(o.host);
        if (!ip) SSL_set_tlsext_host_name(ssl_handle, o.host.c_str());
        if (!cfg.tls.insecure) {
            if (ip)
                X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_handle), o.host.c_str());
            else
                SSL_set1_host(ssl_handle, o.host.c_str());
        }
        auto hs_deadline = std::min(deadline, clock_type::now() + cfg.handshake_timeout);
        bool hs_deadline_binds = hs_deadline == deadline;
        c->stream.tcp().expires_at(hs_deadline);
        oc.hook = [raw] { raw->stream.tcp().close(); };
        auto [hec] = co_await c->stream.tls().async_handshake(ssl::stream_base::client, use_tuple);
        oc.hook = nullptr;
        if (oc.cancelled) {
            res.ec = errc::cancelled;
            co_return nullptr;
        }
        if (hec) {
            long verify = SSL_get_verify_result(ssl_handle);
            if (hec == beast::error::timeout) {
                res.ec = hs_deadline_binds ? errc::request_timeout : errc::tls_handshake_timeout;
                res.detail = "TLS handshake with " + o.to_string() + " timed out";
            } else if (verify != X509_V_OK) {
                res.ec = errc::tls_verify_failed;
                res.detail = "certificate of " + o.to_string() + " rejected: " +
                             X509_verify_cert_error_string(verify);
            } else {
                res.ec = errc::tls_handshake_failed;
                res.detail = "TLS handshake with " + o.to_string() + " failed: " + hec.message();
            }
            c->stream.tcp().close();
            co_return nullptr;
        }
    }
    co_return c;
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

namespace {

// Maps a socket/Beast error during the exchange to our codes.
errc classify_io_error(error_code ec, bool deadline_binds) {
    if (ec == beast::error::timeout) return deadline_binds ? errc::request_timeout : errc::idle_timeout;
    if (ec == http::error::header_limit) return errc::header_too_large;
    if (ec == http::error::body_limit) return errc::body_too_large;
    if (ec == http::error::end_of_stream || ec == http::error::partial_message || ec == asio::error::eof ||
        ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
        ec == asio::error::connection_aborted || ec == asio::ssl::error::stream_truncated)
        return errc::connection_closed;
    if (ec.category() == http::make_error_code(http::error::bad_version).category()) return errc::malformed_response;
    return errc::connection_closed;
}

}  // namespace

// Sends the request and reads the response on `c`. Returns true when the
// connection may be kept for another request.
asio::awaitable<bool> transport::impl::run(connection& c, const detail::wire_request& r, detail::wire_result& res,
                                           detail::op_cancel& oc) {
    auto fail = [&](error_code ec, bool deadline_binds, std::string_view what) {
        res.ec = oc.cancelled ? error_code(errc::cancelled) : error_code(classify_io_error(ec, deadline_binds));
        if (!oc.cancelled) res.detail = std::string(what) + ": " + ec.message();
    };

    // ---- request
    http::request<http::buffer_body> req{to_verb(r.method), r.target, 11};
    std::string host = r.server.host.find(':') != std::string::npos ? "[" + r.server.host + "]" : r.server.host;
    if (r.server.port != (r.server.tls ? 443 : 80)) host += ":" + std::to_string(r.server.port);
    req.set(http::field::host, host);
    if (r.headers)
        for (const auto& [k, v] : *r.headers) req.insert(k, v);
    std::uint64_t length = r.source ? r.source->size() : r.body.size();
    if (length > 0 || r.method == http_method::post || r.method == http_method::put || r.method == http_method::patch)
        req.content_length(length);
    if (!r.content_type.empty()) req.set(http::field::content_type, r.content_type);
    req.keep_alive(true);
    ++stats.requests;
    if (c.reused) ++stats.reused;

    http::request_serializer<http::buffer_body> sr{req};
    bool early = false;  // the server answered before the whole body was sent
    std::optional<http::response_parser<http::empty_body>> early_head;
    if (!r.source) {
        req.body().data = length ? const_cast<char*>(r.body.data()) : nullptr;
        req.body().size = length;
        req.body().more = false;
        bool db = arm(c, r.deadline);
        auto [ec, n] = co_await http::async_write(c.stream, sr, use_tuple);
        res.request_sent = n > 0;
        if (ec) {
            fail(ec, db, "sending the request");
            co_return false;
        }
    } else {
        bool db = arm(c, r.deadline);
        req.body().data = nullptr;
        req.body().more = true;
        auto [hec, hn] = co_await http::async_write_header(c.stream, sr, use_tuple);
        res.request_sent = hn > 0;
        if (hec) {
            fail(hec, db, "sending the request header");
            co_return false;
        }
        // A server may answer before the body is complete (Spark: 500
        // EXCEEDED_FILE_SIZE) and close: then its response is read instead of
        // reporting the write's broken pipe. Every 16 chunks, bytes waiting
        // to be read mean such an answer arrived: stop sending.
        std::uint64_t sent = 0;
        error_code write_ec;
        for (int chunks = 1; sent < length; ++chunks) {
            error_code aec;
            if (chunks % 16 == 0 && c.stream.tcp().socket().available(aec) > 0 && !aec) {
                early = true;
                break;
            }
            error_code sec;
            std::size_t n = r.source->read(std::span<char>(c.chunk.data(), c.chunk.size()), sec);
            if (sec || n == 0 || sent + n > length) {
                res.ec = errc::body_source_error;
                res.detail = "upload source " + std::string(sec ? "failed: " + sec.message() : "ended early") +
                             " after " + std::to_string(sent) + " of " + std::to_string(length) + " bytes";
                co_return false;
            }
            sent += n;
            req.body().data = c.chunk.data();
            req.body().size = n;
            req.body().more = true;
            db = arm(c, r.deadline);
            auto [wec, wn] = co_await http::async_write(c.stream, sr, use_tuple);
            if (wec == http::error::need_buffer) wec = {};
            if (wec) {
                if (oc.cancelled) {
                    fail(wec, db, "sending the request body");
                    co_return false;
                }
                write_ec = wec;
                early = true;
                break;
            }
        }
        if (!early) {
            req.body().data = nullptr;
            req.body().size = 0;
            req.body().more = false;
            db = arm(c, r.deadline);
            auto [fec, fn] = co_await http::async_write(c.stream, sr, use_tuple);
            if (fec) {
                fail(fec, db, "finishing the request body");
                co_return false;
            }
        } else {
            // Look briefly for the server's answer; without one, the write's error stands.
            c.stream.tcp().expires_after(std::min<clock_type::duration>(cfg.idle_timeout, std::chrono::seconds(5)));
            auto& peek = early_head.emplace();
            peek.header_limit(cfg.header_limit);
            peek.eager(false);
            auto [pec, pn] = co_await http::async_read_header(c.stream, c.buffer, peek, use_tuple);
            (void)pn;
            if (pec) {
                if (write_ec) fail(write_ec, db, "sending the request body");
                else fail(pec, db, "reading an early response");
                co_return false;
            }
        }
    }

    // ---- response header
    std::optional<http::response_parser<http::buffer_body>> parser;
    if (early_head) parser.emplace(std::move(*early_head));
    else parser.emplace();
    auto& p = *parser;
    p.header_limit(cfg.header_limit);
    p.body_limit(boost::none);  // enforced below, per destination
    if (r.method == http_method::head) p.skip(true);
    if (!early_head) {
        bool db = arm(c, r.deadline);
        auto [ec, n] = co_await http::async_read_header(c.stream, c.buffer, p, use_tuple);
        note_buffer(c);
        if (ec) {
            fail(ec, db, "reading the response header");
            co_return false;
        }
        // Beast misses its own header_limit when the whole header arrives in
        // one read, so the consumed size is checked here as well.
        if (n > cfg.header_limit) {
            res.ec = errc::header_too_large;
            res.detail = "response header of " + std::to_string(n) + " bytes exceeds the limit of " +
                         std::to_string(cfg.header_limit);
            co_return false;
        }
    }
    res.status = static_cast<int>(p.get().result_int());
    for (const auto& f : p.get()) res.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));

    // ---- response body
    bool ok_status = res.status >= 200 && res.status < 300;
    bool to_sink = ok_status && r.sink;
    std::uint64_t limit = ok_status ? r.body_limit : r.error_body_limit;
    std::optional<std::uint64_t> declared;
    if (auto cl = p.content_length()) declared = *cl;
    if (to_sink) {
        error_code sec;
        r.sink->start(res.status, declared, res.headers, sec);
        if (sec) {
            res.ec = sec;
            res.detail = "download destination refused the response: " + sec.message();
            co_return false;
        }
    } else if (ok_status && limit > 0 && declared && *declared > limit) {
        res.ec = errc::body_too_large;
        res.detail = "response declares " + std::to_string(*declared) + " bytes, over the limit of " +
                     std::to_string(limit);
        co_return false;
    }
    while (!p.is_done()) {
        p.get().body().data = c.chunk.data();
        p.get().body().size = c.chunk.size();
        bool db = arm(c, r.deadline);
        auto [ec, n] = co_await http::async_read(c.stream, c.buffer, p, use_tuple);
        note_buffer(c);
        if (ec == http::error::need_buffer) ec = {};
        std::size_t got = c.chunk.size() - p.get().body().size;
        res.body_bytes += got;
        if (got > 0) {
            if (to_sink) {
                error_code sec;
                r.sink->write(std::span<const char>(c.chunk.data(), got), sec);
                if (sec) {
                    res.ec = sec;
                    res.detail = "writing the download failed: " + sec.message();
                    co_return false;
                }
            } else if (limit > 0 && res.body.size() + got > limit) {
                if (ok_status) {
                    res.ec = errc::body_too_large;
                    res.detail = "response body exceeds the limit of " + std::to_string(limit) + " bytes";
                } else {
                    res.body.append(c.chunk.data(), static_cast<std::size_t>(limit - res.body.size()));
                }
                co_return false;  // the rest of the body is unread: the connection cannot be reused
            } else {
                res.body.append(c.chunk.data(), got);
            }
        }
        if (ec) {
            fail(ec, db, "reading the response body");
            co_return false;
        }
    }
    c.stream.tcp().expires_never();
    co_return p.keep_alive() && c.buffer.size() == 0 && !early;
}

namespace detail {

asio::awaitable<wire_result> exchange(transport& tr, const wire_request& r, op_cancel& oc) {
    auto& t = tr.get_impl();
    std::string key = r.server.to_string();
    wire_result res;
    // A kept-alive connection can close between the liveness check and the
    // write; such a request never reached the server, so one fresh try is safe
    // when the request is idempotent or nothing of it was written.
    for (int attempt = 0; attempt < 3; ++attempt) {
        res = wire_result{};
        auto c = co_await t.acquire(r.server, key, r.deadline, oc, res);
        if (!c) co_return res;
        res.reused = c->reused;
        auto* raw = c.get();
        oc.hook = [raw] { raw->stream.tcp().close(); };
        bool keep = co_await t.run(*c, r, res, oc);
        oc.hook = nullptr;
        t.release(key, std::move(c), keep && !res.ec);
        bool stale = res.reused && res.ec == errc::connection_closed && res.status == 0;
        if (!stale || oc.cancelled || !(r.idempotent || !res.request_sent)) co_return res;
        ++t.stats.stale_reconnects;
        if (r.source) {
            error_code rec;
            r.source->rewind(rec);
            if (rec) co_return res;
        }
    }
    co_return res;
}

}  // namespace detail
}  // namespace cspark
