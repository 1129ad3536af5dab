// Writing answers: a whole body in one write, or streamed a chunk at a
// time with the faults a plan asks for (delay, throttle, reset).
#include "server/server_state.hpp"

#include <boost/beast/http/write.hpp>

#include <algorithm>

namespace cspark::server {

asio::awaitable<bool> http_server::state::respond(detail::any_stream& s, response_plan& plan, bool head_only,
                                                  bool keep_alive, std::vector<char>& chunk) {
    if (plan.delay.count() > 0) co_await pause(s.get_executor(), std::chrono::steady_clock::now() + plan.delay);
    if (plan.reset) {
        abort_connection(s);
        co_return false;
    }
    // A plain string body goes out in one write, without the chunk buffer.
    bool whole = !plan.source && !plan.reset_after && plan.bytes_per_second == 0;
    std::unique_ptr<body_source> owned;
    body_source* src = plan.source.get();
    if (!src) {
        owned = make_string_source(whole ? std::string() : std::move(plan.body));
        src = owned.get();
    }
    std::uint64_t body_size = whole ? plan.body.size() : src->size();
    error_code rec;
    src->rewind(rec);

    http::response<http::buffer_body> res{static_cast<http::status>(plan.status), 11};
    res.set(http::field::server, "cspark-emulator");
    for (const auto& [k, v] : plan.headers) res.insert(k, v);
    res.content_length(body_size);
    res.keep_alive(keep_alive);
    if (whole && !head_only) {
        res.body().data = plan.body.empty() ? nullptr : plan.body.data();
        res.body().size = plan.body.size();
        res.body().more = false;
        http::response_serializer<http::buffer_body> whole_sr{res};
        s.tcp().expires_after(cfg.idle_timeout);
        auto [wec, wn] = co_await http::async_write(s, whole_sr, use_tuple);
        co_return !wec;
    }
    res.body().data = nullptr;
    res.body().more = !head_only && body_size > 0;
    http::response_serializer<http::buffer_body> sr{res};
    s.tcp().expires_after(cfg.idle_timeout);
    auto [head_ec, hn] = co_await http::async_write_header(s, sr, use_tuple);
    if (head_ec) co_return false;
    if (head_only || body_size == 0) co_return true;
    if (chunk.empty()) chunk.resize(cfg.chunk_size);

    co_return co_await stream_body(s, plan, *src, res, sr, chunk);
}

// The body of an answer a chunk at a time: throttled (bytes_per_second), or
// cut with RST after reset_after bytes, as the plan says.
asio::awaitable<bool> http_server::state::stream_body(detail::any_stream& s, response_plan& plan, body_source& src,
                                                      http::response<http::buffer_body>& res,
                                                      http::response_serializer<http::buffer_body>& sr,
                                                      std::vector<char>& chunk) {
    const auto started = std::chrono::steady_clock::now();
    std::uint64_t sent = 0;
    std::size_t step = chunk.size();
    if (plan.bytes_per_second > 0)
        step = static_cast<std::size_t>(std::clamp<std::uint64_t>(plan.bytes_per_second / 20, 1, chunk.size()));
    for (;;) {
        std::size_t want = step;
        if (plan.reset_after) want = static_cast<std::size_t>(std::min<std::uint64_t>(want, *plan.reset_after - sent));
        error_code io_ec;
        std::size_t n = want ? src.read(std::span<char>(chunk.data(), want), io_ec) : 0;
        if (io_ec) {
            abort_connection(s);
            co_return false;
        }
        if (plan.reset_after && sent >= *plan.reset_after) {
            abort_connection(s);
            co_return false;
        }
        bool last = n == 0;
        res.body().data = last ? nullptr : chunk.data();
        res.body().size = n;
        res.body().more = !last;
        s.tcp().expires_after(cfg.idle_timeout);
        auto [wec, wn] = co_await http::async_write(s, sr, use_tuple);
        if (wec == http::error::need_buffer) wec = {};
        if (wec) co_return false;
        if (last) break;
        sent += n;
        if (plan.bytes_per_second > 0) {
            auto due = started + std::chrono::microseconds(sent * 1000000 / plan.bytes_per_second);
            if (due > std::chrono::steady_clock::now()) co_await pause(s.get_executor(), due);
            if (stopped) co_return false;
        }
    }
    co_return true;
}

}  // namespace cspark::server
