#include "core/error_traits.hpp"

#include <array>
#include <utility>

namespace cspark::detail {
namespace {

// One row per errc: before_send, check_may_pass, may_have_reached,
// unknown_outcome, entry_at_fault, transfer_dropped.
constexpr errc_traits T(bool a, bool b, bool c, bool d, bool e, bool f) { return {a, b, c, d, e, f}; }
constexpr errc_traits none{};

constexpr std::pair<errc, errc_traits> rows[] = {
    {errc::resolve_failed,         T(1, 1, 0, 0, 0, 0)},
    {errc::connect_failed,         T(1, 1, 0, 0, 0, 0)},
    {errc::connect_timeout,        T(1, 1, 0, 0, 0, 0)},
    {errc::tls_handshake_failed,   T(1, 1, 0, 0, 0, 0)},
    {errc::tls_handshake_timeout,  T(1, 1, 0, 0, 0, 0)},
    {errc::request_timeout,        T(0, 1, 1, 0, 0, 1)},
    {errc::idle_timeout,           T(0, 1, 1, 0, 0, 1)},
    {errc::connection_closed,      T(0, 1, 1, 0, 0, 1)},
    {errc::too_many_open_files,    T(0, 1, 0, 0, 0, 0)},
    {errc::malformed_response,     T(0, 1, 1, 0, 0, 0)},
    {errc::malformed_json,         T(0, 1, 1, 0, 0, 0)},  // a success whose body cannot be read made its job all the same
    {errc::unexpected_response,    T(0, 1, 1, 0, 0, 0)},
    {errc::rate_limited,           T(0, 1, 0, 0, 0, 0)},
    {errc::server_error,           T(0, 1, 1, 0, 1, 1)},  // Spark answers some refusals with 500: see maybe_reached
    {errc::bad_gateway,            T(0, 1, 1, 0, 0, 0)},
    {errc::service_unavailable,    T(0, 1, 1, 0, 0, 0)},
    {errc::gateway_timeout,        T(0, 1, 1, 0, 0, 0)},
    {errc::http_status,            T(0, 1, 1, 0, 0, 0)},
    {errc::oauth_failed,           T(0, 1, 0, 0, 0, 0)},
    {errc::bad_request,            T(0, 0, 0, 0, 1, 0)},
    {errc::not_found,              T(0, 0, 0, 0, 1, 0)},
    {errc::unprocessable_entity,   T(0, 0, 0, 0, 1, 0)},
    {errc::package_too_large,      T(0, 0, 0, 0, 1, 0)},
    {errc::invalid_argument,       T(0, 0, 0, 0, 1, 0)},
    {errc::job_failed,             T(0, 0, 0, 0, 1, 0)},
    {errc::no_files,               T(0, 0, 0, 0, 1, 0)},
    {errc::cancelled,              T(0, 0, 0, 1, 0, 0)},
    {errc::poll_timeout,           T(0, 0, 0, 1, 0, 0)},
    {errc::job_state_unknown,      T(0, 0, 0, 1, 0, 0)},
    {errc::import_outcome_unknown, T(0, 0, 0, 1, 0, 0)},
};

}  // namespace

errc_traits traits_of(error_code ec) noexcept {
    if (!ec) return none;
    if (ec.category() != error_category()) {
        errc_traits raw;
        raw.check_may_pass = true;  // raw socket errors
        return raw;
    }
    for (const auto& [e, t] : rows)
        if (static_cast<int>(e) == ec.value()) return t;
    return none;  // every other errc: a verdict (HTTP 4xx, local input, files, ...)
}

}  // namespace cspark::detail
