// README example "The ImpEx API", run against the emulator: promote a
// service from a UAT tenant to a production tenant.
#include <cspark/emulator.hpp>

#include "example_args.hpp"
#include "example_setup.hpp"
#include <cspark/impex.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>

#include <iostream>
#include <unistd.h>

// README:begin impex
#include <cspark/impex.hpp>
using namespace std::chrono_literals;

boost::asio::awaitable<void> promote(cspark::impex& uat, cspark::impex& prod) {
    // exp: initiate -> poll -> download every file, verified against file_hash.
    cspark::export_request req{.services = {"my-folder/my-service[0.4.2]"},
                               .file_filter = cspark::file_filter::migrate,
                               .poll = {.max_retries = 40, .retry_interval = 3s}};
    cspark::export_result e = co_await uat.exp(req);
    // imp: streamed multipart upload -> poll -> summary.
    cspark::import_request ir{.file = e.files.at(0).path,
                              .destination = cspark::service_mapping{.source = "my-folder/my-service",
                                                                     .target = "prod-folder/my-service",
                                                                     .upgrade = cspark::upgrade::minor},
                              .if_present = cspark::if_present::add_version};
    cspark::import_result r = co_await prod.imp(ir);
    for (const auto& s : r.services) std::cout << s.source << " -> " << s.destination << ": " << s.status << "\n";
}
// README:end

int main(int argc, char** argv) {
    if (auto rc = example_args(argc, argv, "The README example \"The ImpEx API\": promotes a service from a UAT tenant to a production tenant.")) return *rc;
    scratch_dir scratch("cspark-example");
    boost::asio::io_context io;
    uat_and_prod tenants(io, 50ms, R"("0.4.1","0.4.2")");
    cspark::impex uat(tenants.client(io, "uat")), prod(tenants.client(io, "prod"));
    int rc = 1;
    boost::asio::co_spawn(io, promote(uat, prod), [&](std::exception_ptr e) {
        rc = e ? 1 : 0;
        if (e) try { std::rethrow_exception(e); } catch (const std::exception& x) { std::cerr << x.what() << "\n"; }
        tenants.emu.stop();
    });
    io.run();
    return rc;
}
