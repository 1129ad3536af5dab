// The connection pool behind clients. One per io_context is enough; clients
// given the same transport (client_config::shared_transport) share connections.
#pragma once

#include <cspark/config.hpp>
#include <cspark/history.hpp>

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

/// Thread-safe on any executor: the pool's state lives on a strand of the
/// executor given (get_executor() returns that strand), so one transport may
/// serve clients whose operations run on an io_context that many threads run.
/// The work of one transport (and of its clients) is serialised on the
/// strand; stats() may be called from any thread. close_idle() must not run
/// beside the transport's operations: call it on get_executor() (a handler or
/// coroutine there, or asio::dispatch) or while no thread runs the io_context.
class transport {
public:
    /// Throws spark_error(file_error) when tls.ca_file cannot be loaded.
    transport(boost::asio::any_io_executor ex, transport_config cfg);
    ~transport();
    transport(const transport&) = delete;
    transport& operator=(const transport&) = delete;

    transport_stats stats() const noexcept;  ///< any thread; each counter read once, not all at one instant
    const transport_config& config() const noexcept;
    boost::asio::any_io_executor get_executor() const noexcept;  ///< the transport's strand
    /// Closes idle kept-alive connections (busy ones finish their request first).
    void close_idle();
    /// What the jobs of this transport's clients took (poll_options::adaptive
    /// places checks by it); any thread.
    job_history& history() noexcept { return history_; }


    struct impl;
    impl& get_impl() noexcept { return *impl_; }

private:
    std::unique_ptr<impl> impl_;
    job_history history_;
};

}  // namespace cspark
