// README example "The transport in one example", run against the emulator.
#include <cspark/emulator.hpp>

#include "example_args.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <cstdlib>
#include <iostream>

// README:begin transport
#include <cspark/client.hpp>
#include <boost/asio.hpp>

boost::asio::awaitable<void> show(cspark::client& spark) {
    cspark::request req{.target = "export/status"};  // -> GET /{tenant}/api/v4/export/status
    cspark::response r = co_await spark.async_send(req);  // throws on error
    std::cout << r.status << " " << r.body << "\n";
}

cspark::client connect(boost::asio::io_context& io) {
    // Empty fields come from CSPARK_BASE_URL, CSPARK_API_KEY, CSPARK_BEARER_TOKEN,
    // CSPARK_CLIENT_ID / CSPARK_CLIENT_SECRET, CSPARK_OAUTH_PATH.
    return cspark::client(io.get_executor(), {});
}
// README:end

int main(int argc, char** argv) {
    if (auto rc = example_args(argc, argv, "The README example \"The transport in one example\": one request through cspark::client.")) return *rc;
    boost::asio::io_context io;
    cspark::emulator emu(io.get_executor());
    emu.generate({.tenants = 1});
    emu.start();
    ::setenv("CSPARK_BASE_URL", emu.base_url("tenant-0001").c_str(), 1);
    ::setenv("CSPARK_API_KEY", emu.credentials("tenant-0001").api_key.c_str(), 1);
    auto spark = connect(io);
    int rc = 1;
    boost::asio::co_spawn(io, show(spark), [&](std::exception_ptr e) {
        rc = e ? 1 : 0;
        emu.stop();
    });
    io.run();
    return rc;
}
