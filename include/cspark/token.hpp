// The default completion token of every cspark operation. With it,
// `co_await op(...)` returns the value or throws spark_error carrying the
// operation's diagnostics (HTTP status, the API's error code, the request id,
// what went wrong), instead of a bare system_error that has lost them (the
// idea of Boost.MySQL's with_diagnostics). Other tokens (as_tuple,
// use_future, callbacks, asio::deferred) see void(error_code, T) as before.
//
// (Asio 1.26, in Boost 1.81, cannot co_await a void(exception_ptr, T)
// deferred operation, so this token yields an asio::awaitable<T> directly.)
#pragma once

#include <cspark/error.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <tuple>
#include <utility>

namespace cspark {

struct use_awaitable_with_diagnostics_t {};

/// `co_await op(args, use_awaitable_with_diagnostics)`: the value, or spark_error.
inline constexpr use_awaitable_with_diagnostics_t use_awaitable_with_diagnostics{};

/// What operations use when given no token.
using default_token = use_awaitable_with_diagnostics_t;

namespace detail {

template <class T>
diagnostics diag_of(const T& value) {
    if constexpr (requires { value.diag; }) return value.diag;
    else return {};
}

}  // namespace detail
}  // namespace cspark

namespace boost::asio {

template <class T>
struct async_result<cspark::use_awaitable_with_diagnostics_t, void(cspark::error_code, T)> {
    using return_type = awaitable<T>;

    template <class Initiation, class... Args>
    static return_type initiate(Initiation init, cspark::use_awaitable_with_diagnostics_t, Args... args) {
        constexpr auto token = as_tuple(use_awaitable);
        auto result = co_await async_initiate<decltype(token), void(cspark::error_code, T)>(std::move(init), token,
                                                                                              std::move(args)...);
        if (std::get<0>(result)) throw cspark::spark_error(std::get<0>(result), cspark::detail::diag_of(std::get<1>(result)));
        co_return std::move(std::get<1>(result));
    }
};

}  // namespace boost::asio
