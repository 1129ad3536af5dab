// The transport's exchanging half: one request and its response on a
// connection (streamed both ways), and exchange(), which retries a stale
// kept-alive connection once.
#include "http/transport_impl.hpp"

namespace cspark {

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

// A failed socket step into the result: cancellation wins, else the error's code.
void fail_io(detail::wire_result& res, const detail::op_cancel& oc, error_code ec, bool deadline_binds, std::string_view what) {
    res.ec = oc.cancelled ? error_code(errc::cancelled) : error_code(classify_io_error(ec, deadline_binds));
    if (!oc.cancelled) res.detail = std::string(what) + ": " + ec.message();
}

}  // namespace

// Sends the request and reads the response on `c`. Returns true when the
// connection may be kept for another request.
asio::awaitable<bool> transport::impl::run(connection& c, const detail::wire_request& r, detail::wire_result& res,
                                           detail::op_cancel& oc) {
    early_answer early;
    bool sent = co_await send(c, r, res, oc, early);  // a local, not in the if (g++ 12)
    if (!sent) co_return false;
    bool keep = co_await receive(c, r, res, oc, early);
    co_return keep;
}

// Sends the request; the server may answer before the body is complete (Spark:
// 500 EXCEEDED_FILE_SIZE) and close, and then its answer is read instead of
// reporting the write's broken pipe.
asio::awaitable<bool> transport::impl::send(connection& c, const detail::wire_request& r, detail::wire_result& res,
                                            detail::op_cancel& oc, early_answer& early_head) {
    auto fail = [&](error_code ec, bool deadline_binds, std::string_view what) { fail_io(res, oc, ec, deadline_binds, what); };

    // ---- request
    std::string host = detail::bracketed_host(r.server.host);
    if (r.server.port != (r.server.tls ? 443 : 80)) host += ":" + std::to_string(r.server.port);
    // Through a forward proxy (plain http), the target names the origin.
    std::string target = c.forward_proxy ? "http://" + host + r.target : r.target;
    http::request<http::buffer_body> req{to_verb(r.method), target, 11};
    req.set(http::field::host, host);
    if (c.forward_proxy && !c.forward_proxy->authorization.empty())
        req.set(http::field::proxy_authorization, c.forward_proxy->authorization);
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
        co_return true;
    }
    bool sent = co_await send_streamed(c, r, res, oc, req, sr, length, early_head);
    co_return sent;
}

// A body streamed from its source in chunks; a server answering early stops it.
asio::awaitable<bool> transport::impl::send_streamed(connection& c, const detail::wire_request& r, detail::wire_result& res,
                                                     detail::op_cancel& oc, http::request<http::buffer_body>& req,
                                                     http::request_serializer<http::buffer_body>& sr, std::uint64_t length,
                                                     early_answer& early_head) {
    auto fail = [&](error_code ec, bool deadline_binds, std::string_view what) { fail_io(res, oc, ec, deadline_binds, what); };
    bool early = false;  // the server answered before the whole body was sent
    {
        bool db = arm(c, r.deadline);
        req.body().data = nullptr;
        req.body().more = true;
        auto [head_ec, hn] = co_await http::async_write_header(c.stream, sr, use_tuple);
        res.request_sent = hn > 0;
        if (head_ec) {
            fail(head_ec, db, "sending the request header");
            co_return false;
        }
        error_code write_ec;
        bool went = co_await write_chunks(c, r, res, oc, req, sr, length, write_ec, early, db);
        if (!went) co_return false;
        if (early) {
            bool answered = co_await read_early_answer(c, res, oc, early_head, write_ec, db);
            co_return answered;
        }
        req.body().data = nullptr;
        req.body().size = 0;
        req.body().more = false;
        db = arm(c, r.deadline);
        auto [end_ec, fn] = co_await http::async_write(c.stream, sr, use_tuple);
        if (end_ec) {
            fail(end_ec, db, "finishing the request body");
            co_return false;
        }
    }
    co_return true;
}

// The body's chunks from its source. `early`: the server answered (bytes
// to read) or the write broke before the end (`write_ec`); false: failed.
// `db`: whether the request's deadline bound the last write.
asio::awaitable<bool> transport::impl::write_chunks(connection& c, const detail::wire_request& r, detail::wire_result& res,
                                                    detail::op_cancel& oc, http::request<http::buffer_body>& req,
                                                    http::request_serializer<http::buffer_body>& sr, std::uint64_t length,
                                                    error_code& write_ec, bool& early, bool& db) {
    // A server may answer before the body is complete (Spark: 500
    // EXCEEDED_FILE_SIZE) and close: then its response is read instead of
    // reporting the write's broken pipe. Every 16 chunks, bytes waiting
    // to be read mean such an answer arrived: stop sending.
    std::uint64_t sent = 0;
    for (int chunks = 1; sent < length; ++chunks) {
        error_code aec;
        if (chunks % 16 == 0 && c.stream.tcp().socket().available(aec) > 0 && !aec) {
            early = true;
            break;
        }
        error_code io_ec;
        std::size_t n = r.source->read(std::span<char>(c.chunk.data(), c.chunk.size()), io_ec);
        if (io_ec || n == 0 || sent + n > length) {
            res.ec = errc::body_source_error;
            res.detail = "upload source " + std::string(io_ec ? "failed: " + io_ec.message() : "ended early") +
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
                fail_io(res, oc, wec, db, "sending the request body");
                co_return false;
            }
            write_ec = wec;
            early = true;
            break;
        }
    }
    co_return true;
}

// The server answered before the whole body was sent (or the write broke):
// look briefly for its answer's header; without one, the write's error stands.
asio::awaitable<bool> transport::impl::read_early_answer(connection& c, detail::wire_result& res, detail::op_cancel& oc,
                                                         early_answer& early_head, error_code write_ec, bool deadline_binds) {
    c.stream.tcp().expires_after(std::min<clock_type::duration>(cfg.idle_timeout, std::chrono::seconds(5)));
    auto& peek = early_head.emplace();
    peek.header_limit(cfg.header_limit);
    peek.eager(false);
    auto [pec, pn] = co_await http::async_read_header(c.stream, c.buffer, peek, use_tuple);
    (void)pn;
    if (!pec) co_return true;
    if (write_ec) fail_io(res, oc, write_ec, deadline_binds, "sending the request body");
    else fail_io(res, oc, pec, deadline_binds, "reading an early response");
    co_return false;
}

// Reads the response header (unless an early answer has it), then the body.
asio::awaitable<bool> transport::impl::receive(connection& c, const detail::wire_request& r, detail::wire_result& res,
                                               detail::op_cancel& oc, early_answer& early_head) {
    auto fail = [&](error_code ec, bool deadline_binds, std::string_view what) { fail_io(res, oc, ec, deadline_binds, what); };
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

    bool keep = co_await read_body(c, r, res, oc, p);
    co_return keep && !early_head;
}

// The body: to the sink (2xx with a sink) or into the result, within limits.
asio::awaitable<bool> transport::impl::read_body(connection& c, const detail::wire_request& r, detail::wire_result& res,
                                                 detail::op_cancel& oc, http::response_parser<http::buffer_body>& p) {
    auto fail = [&](error_code ec, bool deadline_binds, std::string_view what) { fail_io(res, oc, ec, deadline_binds, what); };
    bool ok_status = res.status >= 200 && res.status < 300;
    bool to_sink = ok_status && r.sink;
    std::uint64_t limit = ok_status ? r.body_limit : r.error_body_limit;
    std::optional<std::uint64_t> declared;
    if (auto cl = p.content_length()) declared = *cl;
    if (to_sink) {
        error_code io_ec;
        r.sink->start(res.status, declared, res.headers, io_ec);
        if (io_ec) {
            res.ec = io_ec;
            res.detail = "download destination refused the response: " + io_ec.message();
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
                error_code io_ec;
                r.sink->write(std::span<const char>(c.chunk.data(), got), io_ec);
                if (io_ec) {
                    res.ec = io_ec;
                    res.detail = "writing the download failed: " + io_ec.message();
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
    co_return p.keep_alive() && c.buffer.size() == 0;
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

