// A TCP or TLS stream chosen at run time, shared by the client transport and
// the server. Beast's HTTP algorithms are instantiated once, for this type.
// Internal: includes Beast and Asio SSL, so only a few src/ files include it.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <optional>

namespace cspark::detail {

namespace asio = boost::asio;
namespace beast = boost::beast;

class any_stream {
public:
    using executor_type = asio::any_io_executor;
    using tcp_layer = beast::tcp_stream;
    using tls_layer = beast::ssl_stream<beast::tcp_stream>;

    explicit any_stream(executor_type ex) { plain_.emplace(std::move(ex)); }
    any_stream(executor_type ex, asio::ssl::context& ctx) { tls_.emplace(std::move(ex), ctx); }
    /// Server side: wrap an accepted socket.
    any_stream(asio::ip::tcp::socket&& s, asio::ssl::context* ctx) {
        if (ctx)
            tls_.emplace(std::move(s), *ctx);
        else
            plain_.emplace(std::move(s));
    }

    bool is_tls() const noexcept { return tls_.has_value(); }
    tcp_layer& tcp() noexcept { return tls_ ? tls_->next_layer() : *plain_; }
    tls_layer& tls() noexcept { return *tls_; }
    executor_type get_executor() noexcept { return tcp().get_executor(); }

    template <class MutableBuffers, class Token>
    auto async_read_some(const MutableBuffers& buffers, Token&& token) {
        return asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
            [this](auto handler, const MutableBuffers& b) {
                if (tls_)
                    tls_->async_read_some(b, std::move(handler));
                else
                    plain_->async_read_some(b, std::move(handler));
            },
            token, buffers);
    }

    template <class ConstBuffers, class Token>
    auto async_write_some(const ConstBuffers& buffers, Token&& token) {
        return asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
            [this](auto handler, const ConstBuffers& b) {
                if (tls_)
                    tls_->async_write_some(b, std::move(handler));
                else
                    plain_->async_write_some(b, std::move(handler));
            },
            token, buffers);
    }

private:
    std::optional<tls_layer> tls_;
    std::optional<tcp_layer> plain_;
};

}  // namespace cspark::detail
