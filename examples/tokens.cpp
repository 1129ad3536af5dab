// README example "Without coroutines": the flows with a callback and with
// use_future, against the emulator.
#include <cspark/emulator.hpp>

#include "example_args.hpp"
#include "example_setup.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>

#include <filesystem>
#include <functional>
#include <iostream>
#include <thread>
#include <unistd.h>

// README:begin tokens
#include <cspark/impex.hpp>

#include <boost/asio/use_future.hpp>

// A callback: void(std::exception_ptr, T); a failure is the spark_error inside.
void export_with_callback(cspark::impex& uat, std::function<void(std::filesystem::path)> then) {
    uat.async_exp({.services = {"my-folder/my-service"}}, [then](std::exception_ptr e, cspark::export_result r) {
        if (e) {
            try { std::rethrow_exception(e); } catch (const cspark::spark_error& x) { std::cerr << x.what() << "\n"; }
            return then({});
        }
        std::cout << "exported " << r.files.at(0).path << "\n";
        then(r.files.at(0).path);
    });
}

// use_future, from a thread that is not running the io_context.
cspark::import_result import_blocking(cspark::impex& prod, const std::filesystem::path& package) {
    std::future<cspark::import_result> f = prod.async_imp(
        {.file = package, .destination = cspark::service_mapping{.source = "my-folder/my-service", .target = "prod-folder/my-service"}},
        boost::asio::use_future);
    return f.get();  // throws spark_error on failure
}
// README:end

int main(int argc, char** argv) {
    if (auto rc = example_args(argc, argv, "The README example \"Without coroutines\": a callback and use_future.")) return *rc;
    scratch_dir scratch("cspark-example-tokens");
    boost::asio::io_context io;
    uat_and_prod tenants(io, std::chrono::milliseconds(20), R"("1.0.0")");
    cspark::impex uat(tenants.client(io, "uat")), prod(tenants.client(io, "prod"));

    // 1. The callback, on this thread's io_context (the emulator serves on it
    // too, so run handlers until the callback has been called).
    std::filesystem::path package;
    bool called = false;
    export_with_callback(uat, [&](std::filesystem::path p) {
        package = std::move(p);
        called = true;
    });
    while (!called && io.run_one() > 0) {
    }
    if (package.empty()) {
        std::cerr << "the callback exported nothing\n";
        return 1;
    }

    // 2. use_future: the io_context runs on its own thread, main blocks.
    auto work = boost::asio::make_work_guard(io);
    std::thread runner([&] { io.run(); });
    int rc = 0;
    try {
        auto r = import_blocking(prod, package);
        std::cout << "imported " << r.services.size() << " service(s)\n";
        rc = r.services.size() == 1 ? 0 : 1;
    } catch (const std::exception& x) {
        std::cerr << x.what() << "\n";
        rc = 1;
    }
    // Stop the emulator on the io thread, then let run() return.
    boost::asio::post(io, [&] {
        tenants.emu.stop();
        work.reset();
    });
    runner.join();
    return rc;
}
