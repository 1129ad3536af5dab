// The connection pool behind clients. One per io_context is enough; clients
// given the same transport (client_config::shared_transport) share connections.
#pragma once

#include <cspark/config.hpp>

#include <boost/asio/any_io_executor.hpp>

#include <cstdint>
#include <memory>

namespace cspark {

struct transport_stats {
    std::uint64_t connections_opened = 0;  ///< TCP (and TLS) connections established
    std::uint64_t requests = 0;            ///< requests written
    std::uint64_t reused = 0;              ///< requests sent on a kept-alive connection
    std::uint64_t stale_reconnects = 0;    ///< kept-alive connections found closed and replaced
    std::size_t open_connections = 0;      ///< currently open (idle + busy)
    std::size_t peak_buffer_bytes = 0;     ///< largest I/O buffer one connection has held
};

/// Not thread-safe: use from the thread(s) running its executor, serialised
/// (one io_context thread, or a strand).
class transport {
public:
    /// Throws spark_error(file_error) when tls.ca_file cannot be loaded.
    transport(boost::asio::any_io_executor ex, transport_config cfg);
    ~transport();
    transport(const transport&) = delete;
    transport& operator=(const transport&) = delete;

    transport_stats stats() const noexcept;
    const transport_config& config() const noexcept;
    boost::asio::any_io_executor get_executor() const noexcept;
    /// Closes idle kept-alive connections (busy ones finish their request first).
    void close_idle();

    struct impl;
    impl& get_impl() noexcept { return *impl_; }

private:
    std::unique_ptr<impl> impl_;
};

}  // namespace cspark
