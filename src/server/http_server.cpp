#include "server/server_state.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <boost/asio/strand.hpp>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <unordered_set>
#include <vector>

namespace cspark::server {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;


std::string_view request_head::path() const noexcept {
    std::string_view t(target);
    return t.substr(0, t.find('?'));
}

std::string_view request_head::query() const noexcept {
    std::string_view t(target);
    auto q = t.find('?');
    return q == std::string_view::npos ? std::string_view{} : t.substr(q + 1);
}

http_server::http_server(asio::any_io_executor ex, server_config cfg, std::shared_ptr<handler> h)
    : st_(std::make_shared<state>(ex, std::move(cfg), std::move(h))) {}

http_server::~http_server() { stop(); }

void http_server::start() {
    auto& s = *st_;
    auto fail = [](const std::string& what, error_code ec) {
        diagnostics d;
        d.detail = what + ": " + ec.message();
        throw spark_error(ec == asio::error::no_descriptors ? errc::too_many_open_files : errc::connect_failed, d);
    };
    if (!s.cfg.tls_cert_pem.empty()) {
        s.tls_ctx.emplace(asio::ssl::context::tls_server);
        error_code ec;
        s.tls_ctx->use_certificate_chain(asio::buffer(s.cfg.tls_cert_pem), ec);
        if (!ec) s.tls_ctx->use_private_key(asio::buffer(s.cfg.tls_key_pem), asio::ssl::context::pem, ec);
        if (ec) fail("loading the TLS certificate", ec);
    }
    error_code ec;
    auto address = asio::ip::make_address(s.cfg.address, ec);
    if (ec) fail("bad listen address '" + s.cfg.address + "'", ec);
    tcp::endpoint ep(address, s.cfg.port);
    s.acceptor.open(ep.protocol(), ec);
    if (!ec) s.acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) s.acceptor.bind(ep, ec);
    if (!ec) s.acceptor.listen(s.cfg.backlog, ec);
    if (ec) fail("listening on " + s.cfg.address + ":" + std::to_string(s.cfg.port), ec);
    asio::co_spawn(s.ex, s.accept_loop(), asio::detached);
}

void http_server::stop() {
    auto& s = *st_;
    if (s.stopped) return;
    s.stopped = true;
    error_code ignored;
    s.acceptor.close(ignored);
    std::lock_guard lock(s.mu);
    for (auto* stream : s.live) stream->tcp().socket().close(ignored);
    for (const auto& t : s.waits) asio::post(t->get_executor(), [t] { t->cancel(); });  // on the timer's own strand
    s.waits.clear();
}

void http_server::close_connections() {
    error_code ignored;
    std::lock_guard lock(st_->mu);
    for (auto* stream : st_->live) {
        stream->tcp().socket().shutdown(tcp::socket::shutdown_both, ignored);
        stream->tcp().socket().close(ignored);
    }
}

std::uint16_t http_server::port() const noexcept {
    error_code ec;
    auto ep = st_->acceptor.local_endpoint(ec);
    return ec ? 0 : ep.port();
}

bool http_server::tls() const noexcept { return st_->tls_ctx.has_value(); }

std::string http_server::url() const {
    return std::string(tls() ? "https://" : "http://") + st_->cfg.address + ":" + std::to_string(port());
}

server_stats http_server::stats() const noexcept {
    std::lock_guard lock(st_->mu);
    return st_->stats;
}

asio::awaitable<void> http_server::state::accept_loop() {
    auto self = shared_from_this();
    while (!stopped) {
        auto strand = asio::make_strand(ex);
        auto [ec, sock] = co_await acceptor.async_accept(strand, use_tuple);
        if (stopped) break;
        if (ec) {
            if (ec == asio::error::no_descriptors || ec == asio::error::no_buffer_space) {
                // Out of descriptors: wait a little instead of spinning.
                asio::steady_timer t(ex, std::chrono::milliseconds(50));
                co_await t.async_wait(use_tuple);
                continue;
            }
            if (ec == asio::error::operation_aborted) break;
            continue;
        }
        {
            std::lock_guard lock(mu);
            ++stats.accepted;
        }
        asio::co_spawn(strand, session(std::move(sock)), asio::detached);
    }
}

namespace {

response_plan bad_request(bool too_big) {
    response_plan plan;
    plan.status = too_big ? 431 : 400;
    plan.headers.emplace_back("Content-Type", "application/json");
    plan.body = too_big ? R"({"type":"invalid_input","code":"HEADER_TOO_LARGE","message":"request header too large"})"
                        : R"({"type":"invalid_input","code":"BAD_REQUEST","message":"malformed HTTP request"})";
    return plan;
}

// A request in absolute form ("GET http://host/path", as proxies forward
// them; RFC 9112 3.2.2: servers must accept it) is routed by its path.
std::string origin_form(std::string_view target) {
    auto scheme = target.find("://");
    if (target.starts_with("/") || scheme == std::string_view::npos || scheme == 0) return std::string(target);
    auto path = target.find_first_of("/?", scheme + 3);
    if (path == std::string_view::npos) return "/";
    return (target[path] == '?' ? "/" : "") + std::string(target.substr(path));
}

request_head head_of(const http::request_parser<http::buffer_body>& p, const std::string& remote, bool tls) {
    request_head head;
    head.method = std::string(p.get().method_string());
    head.target = origin_form(p.get().target());
    for (const auto& f : p.get()) head.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
    if (auto cl = p.content_length()) head.content_length = *cl;
    head.remote = remote;
    head.tls = tls;
    head.host = std::string(head.header("host"));
    return head;
}

}  // namespace

// The body, to the handler's sink or into `body` within its limit; an
// over-limit body is read and dropped up to drain_limit.
asio::awaitable<http_server::state::body_end> http_server::state::read_body(detail::any_stream& s, beast::flat_buffer& buffer,
                                                                            http::request_parser<http::buffer_body>& p,
                                                                            std::vector<char>& chunk, body_plan& bp,
                                                                            body_status& bs, std::string& body) {
    if (!p.is_done() && chunk.empty()) {
        chunk.resize(cfg.chunk_size);
        buffer.reserve(cfg.chunk_size);  // Beast reads max(512, free room) at a time
    }
    while (!p.is_done()) {
        p.get().body().data = chunk.data();
        p.get().body().size = chunk.size();
        s.tcp().expires_after(cfg.idle_timeout);
        auto [ec, n] = co_await http::async_read(s, buffer, p, use_tuple);
        if (ec == http::error::need_buffer) ec = {};
        if (ec) co_return body_end::gone;
        std::size_t got = chunk.size() - p.get().body().size;
        bs.bytes += got;
        if (bs.too_large || bs.sink_error) {
            if (bs.bytes > cfg.drain_limit) co_return body_end::undrained;
            continue;
        }
        if (bs.bytes > bp.limit) {
            bs.too_large = true;
            body.clear();
            continue;
        }
        if (bp.sink) bp.sink->write(std::span<const char>(chunk.data(), got), bs.sink_error);
        else body.append(chunk.data(), got);
    }
    co_return body_end::drained;
}

// One request on a connection and its answer; false when the connection
// is to end (closed, refused, or not kept alive).
asio::awaitable<bool> http_server::state::serve_one(detail::any_stream& s, beast::flat_buffer& buffer, std::vector<char>& chunk,
                                                    const std::string& remote) {
    http::request_parser<http::buffer_body> p;
    p.header_limit(cfg.header_limit);
    p.body_limit(boost::none);
    s.tcp().expires_after(cfg.idle_timeout);
    auto [head_ec, hn] = co_await http::async_read_header(s, buffer, p, use_tuple);
    if (!head_ec && hn > cfg.header_limit) head_ec = http::error::header_limit;  // see src/http/exchange.cpp
    if (head_ec) {
        bool http_error = head_ec.category() == http::make_error_code(http::error::bad_method).category();
        if (!http_error || head_ec == http::error::end_of_stream || head_ec == http::error::partial_message) co_return false;
        auto plan = bad_request(head_ec == http::error::header_limit);
        co_await respond(s, plan, false, false, chunk);
        co_return false;
    }
    {
        std::lock_guard lock(mu);
        ++stats.requests;
    }
    request_head head = head_of(p, remote, s.is_tls());
    body_plan bp = h->plan_body(head);
    body_status bs;
    std::string body;
    auto end = co_await read_body(s, buffer, p, chunk, bp, bs, body);
    if (end == body_end::gone) co_return false;  // client went away mid-body: the sink is dropped with bp
    bool drained = end == body_end::drained;
    bs.sink = bp.sink.get();
    response_plan plan = h->handle(head, body, bs);
    bp = {};  // release the sink before answering
    bool keep = p.keep_alive() && !plan.close && drained && !stopped;
    bool ok = co_await respond(s, plan, head.method == "HEAD", keep, chunk);
    co_return ok && keep;
}

asio::awaitable<void> http_server::state::session(tcp::socket sock) {
    auto self = shared_from_this();
    detail::any_stream s(std::move(sock), tls_ctx ? &*tls_ctx : nullptr);
    {
        std::lock_guard lock(mu);
        live.insert(&s);
        ++stats.active;
    }
    struct untrack {
        state* st;
        detail::any_stream* s;
        ~untrack() {
            std::lock_guard lock(st->mu);
            st->live.erase(s);
            --st->stats.active;
        }
    } guard{this, &s};

    error_code ignored;
    std::string remote;
    if (auto ep = s.tcp().socket().remote_endpoint(ignored); !ignored) remote = ep.address().to_string();

    if (s.is_tls()) {
        s.tcp().expires_after(cfg.idle_timeout);
        auto [ec] = co_await s.tls().async_handshake(asio::ssl::stream_base::server, use_tuple);
        if (ec) co_return;
    }

    // Idle connections hold only what their headers need: the body chunk and
    // read room are taken when a body comes (10,000 idle connections fit).
    beast::flat_buffer buffer(cfg.header_limit + cfg.chunk_size);
    std::vector<char> chunk;
    while (!stopped) {
        bool more = co_await serve_one(s, buffer, chunk, remote);
        if (!more) break;
    }
    // Graceful end: FIN after the last response (TLS close_notify is skipped).
    s.tcp().socket().shutdown(tcp::socket::shutdown_send, ignored);
    s.tcp().socket().close(ignored);
}

}  // namespace cspark::server
