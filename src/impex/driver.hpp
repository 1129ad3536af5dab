// The one I/O driver of the migration engine: it carries out each action the
// engine asks for (a request, a wait, a download, a rename) and feeds back
// what came of it. It decides nothing.
#pragma once

#include "impex/engine.hpp"
#include "impex/flows.hpp"
#include "impex/job_requests.hpp"

#include <boost/asio/awaitable.hpp>

#include <functional>
#include <string>

namespace cspark::detail {

/// Everything the driver needs to carry out a flow's actions.
struct flow_io {
    client* source = nullptr;      ///< exports and downloads (and the clock)
    client* target = nullptr;      ///< imports
    gates* slots = nullptr;        ///< tenant slots, when the plan uses them
    std::string export_body;       ///< POST export
    if_present action = if_present::add_version;
    std::string source_system;
    std::uint64_t max_package_bytes = 200ull * 1024 * 1024;
    download_options download;     ///< directory, durable, overwrite, in_memory, limits
    progress_fn progress;
    /// Awaited for every note before the next action: a journal makes an
    /// intent durable here, before its POST.
    std::function<boost::asio::awaitable<void>(const flow_note&)> checkpoint;
};

/// Runs the flow to its end; the outcome is in `st`. Cancellation of the
/// awaiting coroutine reaches the engine as an event (the engine then cancels
/// the server's export job and removes partial files).
boost::asio::awaitable<void> drive(flow_state& st, flow_io& io);

}  // namespace cspark::detail
