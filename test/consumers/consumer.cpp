// A consumer of an installed (or subproject) cspark-impex: starts the
// in-process emulator, exports one service through the library and checks the
// package. Built by scripts/consumers with CMake find_package, CMake
// pkg-config and a Meson subproject.
#include <cspark/emulator.hpp>
#include <cspark/impex.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <cstdio>
#include <filesystem>

namespace asio = boost::asio;

asio::awaitable<int> run(cspark::impex& spark, std::filesystem::path dir) {
    cspark::export_request req;
    req.services = {"folder-1/service-1"};
    req.directory = dir;
    cspark::export_result result = co_await spark.exp(req);
    bool ok = result.files.size() == 1 && result.files[0].verified && std::filesystem::exists(result.files[0].path);
    std::printf("consumer: exported %zu file(s), %s\n", result.files.size(), ok ? "verified" : "NOT verified");
    co_return ok ? 0 : 1;
}

int main() {
    asio::io_context io;
    cspark::emulator_config ec;
    ec.job_duration = std::chrono::milliseconds(0);
    cspark::emulator emu(io.get_executor(), ec);
    cspark::fleet_spec fleet;
    emu.generate(fleet);
    emu.start();
    cspark::client_config cfg;
    cfg.base_url = emu.base_url("tenant-0001");
    cfg.api_key = emu.credentials("tenant-0001").api_key;
    cfg.use_environment = false;
    cspark::impex spark(cspark::client(io.get_executor(), cfg));
    auto dir = std::filesystem::temp_directory_path() / "cspark-consumer";
    std::filesystem::create_directories(dir);
    int rc = 2;
    asio::co_spawn(io, run(spark, dir), [&](std::exception_ptr e, int r) {
        rc = e ? 3 : r;
        emu.stop();
    });
    io.run();
    std::filesystem::remove_all(dir);
    return rc;
}
