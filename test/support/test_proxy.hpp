// Test support: a small HTTP proxy on 127.0.0.1. It opens CONNECT tunnels
// and forwards absolute-form requests, to loopback only, and records what it
// was asked and every byte clients sent through it.
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <openssl/evp.h>

#include <algorithm>
#include <cctype>
#include <memory>
#include <string>
#include <vector>

namespace cspark::test {

class test_proxy {
public:
    /// `credentials`: "user:password" the proxy demands (407 without them); "" = none.
    explicit test_proxy(boost::asio::any_io_executor ex, const std::string& credentials = {})
        : st_(std::make_shared<state>(ex)) {
        if (!credentials.empty()) {
            std::string b64(4 * ((credentials.size() + 2) / 3) + 1, '\0');
            int len = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(b64.data()),
                                      reinterpret_cast<const unsigned char*>(credentials.data()), static_cast<int>(credentials.size()));
            b64.resize(static_cast<std::size_t>(len));
            st_->required = "Basic " + b64;
        }
        boost::asio::ip::tcp::endpoint ep(boost::asio::ip::make_address("127.0.0.1"), 0);
        st_->acceptor.open(ep.protocol());
        st_->acceptor.set_option(boost::asio::socket_base::reuse_address(true));
        st_->acceptor.bind(ep);
        st_->acceptor.listen();
        boost::asio::co_spawn(ex, accept_loop(st_), boost::asio::detached);
    }
    ~test_proxy() { stop(); }
    test_proxy(const test_proxy&) = delete;
    test_proxy& operator=(const test_proxy&) = delete;

    std::uint16_t port() const { return st_->acceptor.local_endpoint().port(); }
    /// "http://[userinfo@]127.0.0.1:port"
    std::string url(const std::string& userinfo = {}) const {
        return "http://" + (userinfo.empty() ? "" : userinfo + "@") + "127.0.0.1:" + std::to_string(port());
    }
    /// Closes the listener and every relayed connection.
    void stop() {
        boost::system::error_code ignored;
        st_->acceptor.close(ignored);
        for (auto& w : st_->sockets)
            if (auto s = w.lock()) s->close(ignored);
    }

    const std::vector<std::string>& heads() const { return st_->heads; }  ///< first head of each connection
    const std::string& client_bytes() const { return st_->client_bytes; }  ///< all bytes clients sent
    int tunnels() const { return st_->tunnels; }
    int forwarded() const { return st_->forwarded; }
    int refused() const { return st_->refused; }

private:
    using tcp = boost::asio::ip::tcp;
    using socket_ptr = std::shared_ptr<tcp::socket>;
    static constexpr auto tuple = boost::asio::as_tuple(boost::asio::use_awaitable);

    struct state {
        explicit state(boost::asio::any_io_executor e) : ex(e), acceptor(e) {}
        boost::asio::any_io_executor ex;
        tcp::acceptor acceptor;
        std::string required;  // "Basic xxx" expected, lower-cased compare
        std::vector<std::string> heads;
        std::string client_bytes;
        std::vector<std::weak_ptr<tcp::socket>> sockets;
        int tunnels = 0, forwarded = 0, refused = 0;
    };

    static std::string lower(std::string s) {
        std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        return s;
    }

    static boost::asio::awaitable<void> accept_loop(std::shared_ptr<state> st) {
        for (int i = 0; i < 10000; ++i) {  // bounded: a test opens far fewer
            auto s = std::make_shared<tcp::socket>(st->ex);
            auto [ec] = co_await st->acceptor.async_accept(*s, tuple);
            if (ec) co_return;
            st->sockets.push_back(s);
            boost::asio::co_spawn(st->ex, serve(st, s), boost::asio::detached);
        }
    }

    static boost::asio::awaitable<void> pump(std::shared_ptr<state> st, socket_ptr from, socket_ptr to, bool record) {
        char buf[16384];
        for (;;) {
            auto [ec, n] = co_await from->async_read_some(boost::asio::buffer(buf), tuple);
            if (ec) break;
            if (record) st->client_bytes.append(buf, n);
            auto [wec, wn] = co_await boost::asio::async_write(*to, boost::asio::buffer(buf, n), tuple);
            if (wec) break;
        }
        boost::system::error_code ignored;
        from->close(ignored);
        to->close(ignored);
    }

    static boost::asio::awaitable<void> reply(socket_ptr s, std::string text) {
        co_await boost::asio::async_write(*s, boost::asio::buffer(text), tuple);
        boost::system::error_code ignored;
        s->close(ignored);
    }

    static boost::asio::awaitable<void> serve(std::shared_ptr<state> st, socket_ptr s) {
        std::string in;
        auto [ec, n] = co_await boost::asio::async_read_until(*s, boost::asio::dynamic_buffer(in, 64 * 1024), "\r\n\r\n", tuple);
        if (ec) co_return;
        std::string head = in.substr(0, n);
        st->heads.push_back(head);
        st->client_bytes += head;
        if (!st->required.empty() &&
            lower(head).find("\r\nproxy-authorization: " + lower(st->required) + "\r\n") == std::string::npos) {
            ++st->refused;
            std::string answer = "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"test\"\r\n"
                                 "Content-Length: 0\r\nConnection: close\r\n\r\n";
            co_await reply(s, std::move(answer));  // named locals in co_await calls (g++ 12)
            co_return;
        }
        // "CONNECT 127.0.0.1:port HTTP/1.1" or "GET http://127.0.0.1:port/path HTTP/1.1"
        auto sp1 = head.find(' '), sp2 = head.find(' ', sp1 + 1);
        std::string method = head.substr(0, sp1), target = head.substr(sp1 + 1, sp2 - sp1 - 1);
        bool tunnel = method == "CONNECT";
        std::string authority = tunnel ? target : target.substr(0, target.find('/', 7)).substr(target.starts_with("http://") ? 7 : 0);
        auto colon = authority.rfind(':');
        if (!authority.starts_with("127.0.0.1:") || colon == std::string::npos) {  // loopback only
            ++st->refused;
            std::string answer = "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
            co_await reply(s, std::move(answer));
            co_return;
        }
        auto up = std::make_shared<tcp::socket>(st->ex);
        st->sockets.push_back(up);
        tcp::endpoint ep(boost::asio::ip::make_address("127.0.0.1"),
                         static_cast<std::uint16_t>(std::stoi(authority.substr(colon + 1))));
        auto [cec] = co_await up->async_connect(ep, tuple);
        if (cec) {
            std::string answer = "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
            co_await reply(s, std::move(answer));
            co_return;
        }
        std::string first;
        if (tunnel) {
            ++st->tunnels;
            std::string established = "HTTP/1.1 200 Connection established\r\n\r\n";
            auto [wec, wn] = co_await boost::asio::async_write(*s, boost::asio::buffer(established), tuple);
            if (wec) co_return;
            first = in.substr(n);
        } else {
            ++st->forwarded;
            first = in;  // the request as it came (servers accept absolute form)
        }
        if (!first.empty()) {
            if (tunnel) st->client_bytes += first;
            auto [wec, wn] = co_await boost::asio::async_write(*up, boost::asio::buffer(first), tuple);
            if (wec) co_return;
        }
        boost::asio::co_spawn(st->ex, pump(st, up, s, false), boost::asio::detached);
        co_await pump(st, s, up, true);
    }

    std::shared_ptr<state> st_;
};

}  // namespace cspark::test
