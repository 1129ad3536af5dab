// What the examples share around their README regions: a scratch directory
// to work in (exp writes packages to the current one), and an in-process
// emulator with a "uat" tenant holding my-folder/my-service and an empty
// "prod" tenant, with clients for both.
#pragma once

#include <cspark/client.hpp>
#include <cspark/emulator.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>

#include <chrono>
#include <filesystem>
#include <string>
#include <unistd.h>

/// Creates a fresh directory, works in it, and removes it at the end.
struct scratch_dir {
    std::filesystem::path dir;
    explicit scratch_dir(const std::string& name)
        : dir(std::filesystem::temp_directory_path() / (name + "-" + std::to_string(::getpid()))) {
        std::filesystem::create_directories(dir);
        std::filesystem::current_path(dir);
    }
    ~scratch_dir() {
        std::error_code ignored;
        std::filesystem::current_path(dir.parent_path(), ignored);
        std::filesystem::remove_all(dir, ignored);
    }
};

/// The emulator serving uat (my-folder/my-service in `versions`, a JSON list
/// body such as "\"1.0.0\"") and prod (an empty prod-folder).
struct uat_and_prod {
    cspark::emulator emu;
    uat_and_prod(boost::asio::io_context& io, std::chrono::milliseconds job_duration, const std::string& versions)
        : emu(io.get_executor(), {.job_duration = job_duration}) {
        emu.load_seed(boost::json::parse(R"({"tenants":[
            {"name":"uat","folders":[{"name":"my-folder","services":[{"name":"my-service","versions":[)" + versions + R"(]}]}]},
            {"name":"prod","folders":[{"name":"prod-folder"}]}]})"));
        emu.start();
    }
    cspark::client client(boost::asio::io_context& io, const std::string& tenant) {
        return cspark::client(io.get_executor(), {.base_url = emu.base_url(tenant),
                                                  .api_key = emu.credentials(tenant).api_key,
                                                  .use_environment = false});
    }
};
