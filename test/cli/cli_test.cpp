// The cspark-impex binary as a child process against an in-process emulator
// (served from a background thread).
#include "support/emu_fixture.hpp"

#include "zip/zip.hpp"

#include <boost/asio/executor_work_guard.hpp>

#include <cstdlib>
#include <fcntl.h>
#include <sys/wait.h>
#include <thread>

using namespace cspark;
using namespace cspark::test;

namespace {

struct cli_result {
    int rc = -1;
    std::string out, err;
};

std::string slurp(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), {});
}

struct cli_fixture {
    asio::io_context io;
    std::unique_ptr<emulator> emu;
    std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
    std::thread runner;
    std::filesystem::path dir;

    cli_fixture() {
        emulator_config cfg;
        cfg.job_duration = std::chrono::milliseconds(50);
        emu = std::make_unique<emulator>(io.get_executor(), cfg);
        emu->generate(small_fleet());
        emu->start();
        work.emplace(io.get_executor());
        runner = std::thread([this] { io.run(); });
        dir = std::filesystem::temp_directory_path() / ("cspark-cli-test-" + std::to_string(::getpid()));
        std::filesystem::create_directories(dir);
        ::setenv("SRC_KEY", emu->credentials("tenant-0001").api_key.c_str(), 1);
        ::setenv("DST_KEY", emu->credentials("target-0001").api_key.c_str(), 1);
    }
    ~cli_fixture() {
        asio::post(io, [this] { emu->stop(); });
        work.reset();
        io.stop();
        runner.join();
        std::error_code ignored;
        std::filesystem::remove_all(dir, ignored);
    }
    std::string src() const { return emu->base_url("tenant-0001"); }
    std::string dst() const { return emu->base_url("target-0001"); }

    cli_result run(std::vector<std::string> args) {
        const char* bin = std::getenv("CSPARK_CLI_BIN");
        REQUIRE_MESSAGE(bin, "CSPARK_CLI_BIN is not set (run through meson test)");
        auto out_path = dir / "stdout", err_path = dir / "stderr";
        pid_t pid = ::fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            int o = ::open(out_path.c_str(), O_CREAT | O_TRUNC | O_WRONLY, 0600);
            int e = ::open(err_path.c_str(), O_CREAT | O_TRUNC | O_WRONLY, 0600);
            ::dup2(o, 1);
            ::dup2(e, 2);
            std::vector<std::string> all{bin};
            all.insert(all.end(), args.begin(), args.end());
            std::vector<char*> argv;
            for (auto& a : all) argv.push_back(a.data());
            argv.push_back(nullptr);
            ::execv(argv[0], argv.data());
            ::_exit(127);
        }
        int status = 0;
        ::waitpid(pid, &status, 0);
        cli_result r;
        r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        r.out = slurp(out_path);
        r.err = slurp(err_path);
        return r;
    }
    void no_secrets(const cli_result& r) {
        for (const char* var : {"SRC_KEY", "DST_KEY"}) {
            std::string key = std::getenv(var);
            CHECK(r.out.find(key) == std::string::npos);
            CHECK(r.err.find(key) == std::string::npos);
        }
    }
};

}  // namespace

TEST_CASE("export, inspect, import and migrate with --json; credentials never printed") {
    cli_fixture f;
    auto out_dir = (f.dir / "pkgs").string();
    auto e = f.run({"--json", "--verbose", "export", "--base-url", f.src(), "--api-key-env", "SRC_KEY", "--services",
                    "folder-1/service-1", "--version-filter", "all", "-o", out_dir, "--retry-interval", "20"});
    CHECK_MESSAGE(e.rc == 0, e.err);
    f.no_secrets(e);
    auto doc = json::parse(e.out).as_object();
    auto path = std::string(doc.at("files").at(0).at("path").as_string());
    CHECK(doc.at("files").at(0).at("verified") == true);
    CHECK(std::filesystem::exists(path));

    auto i = f.run({"--json", "inspect", path});
    CHECK(i.rc == 0);
    auto idoc = json::parse(i.out).as_object();
    CHECK(idoc.at("crc_ok") == true);
    CHECK(idoc.at("service_versions").as_array().size() == 3);

    auto imp = f.run({"--json", "import", "--base-url", f.dst(), "--api-key-env", "DST_KEY", "--file", path,
                      "--destination", "folder-1/service-1=folder-2/copy@major", "--retry-interval", "20"});
    CHECK_MESSAGE(imp.rc == 0, imp.err);
    auto jdoc = json::parse(imp.out).as_object();
    CHECK(jdoc.at("services").at(0).at("destination") == "folder-2/copy");

    auto mig = f.run({"--json", "migrate", "--from-base-url", f.src(), "--from-api-key-env", "SRC_KEY", "--to-base-url",
                      f.dst(), "--to-api-key-env", "DST_KEY", "--folders", "folder-2", "--from-retry-interval", "20",
                      "--if-present", "replace"});
    CHECK_MESSAGE(mig.rc == 0, mig.err);
    f.no_secrets(mig);
    CHECK(json::parse(mig.out).at("imports").as_array().size() == 1);
}

TEST_CASE("status, cancel and describe") {
    cli_fixture f;
    auto d = f.run({"--json", "describe", "--base-url", f.src(), "--api-key-env", "SRC_KEY"});
    CHECK(d.rc == 0);
    CHECK(json::parse(d.out).as_object().contains("in_progress_exports"));
    auto s = f.run({"--json", "status", "--base-url", f.src(), "--api-key-env", "SRC_KEY", "no-such-job"});
    CHECK(s.rc == 1);
    CHECK(json::parse(s.out).at("error").at("api_code") == "INVALID_JOB_ID");
}

TEST_CASE("bad usage and bad input exit 2 naming the problem") {
    cli_fixture f;
    auto a = f.run({"export", "--bogus"});
    CHECK(a.rc == 2);
    CHECK(a.err.find("--bogus") != std::string::npos);
    auto b = f.run({"export", "--base-url", f.src(), "--api-key-env", "NOT_SET_ANYWHERE", "--services", "f/s"});
    CHECK(b.rc == 2);
    CHECK(b.err.find("NOT_SET_ANYWHERE") != std::string::npos);
    auto c = f.run({"import", "--base-url", f.dst(), "--api-key-env", "DST_KEY", "--file", "/nonexistent.zip",
                    "--destination", "a/b"});
    CHECK(c.rc == 2);
    auto pkg = f.dir / "x.zip";
    std::ofstream(pkg) << "x";
    auto d = f.run({"import", "--base-url", f.dst(), "--api-key-env", "DST_KEY", "--file", pkg.string(),
                    "--destination", "a/b@huge"});
    CHECK(d.rc == 2);
    CHECK(d.err.find("huge") != std::string::npos);
    auto e = f.run({"export", "--base-url", "ftp://x/t", "--api-key-env", "SRC_KEY", "--services", "f/s"});
    CHECK(e.rc == 2);
    CHECK(e.err.find("ftp") != std::string::npos);
}

TEST_CASE("inspect --extract refuses entries that escape the directory, and extracts good packages") {
    cli_fixture f;
    for (std::string evil : {"../evil.txt", "/tmp/cspark-absolute-evil.txt", "a/../../evil.txt"}) {
        CAPTURE(evil);
        auto crafted = f.dir / "crafted.zip";
        {
            zip::writer w(crafted);
            w.add_file("ok/first.txt", "fine");
            w.add_file(evil, "gotcha");
            w.finish();
        }
        auto target = f.dir / "extract";
        auto r = f.run({"inspect", crafted.string(), "--extract", target.string()});
        CHECK(r.rc == 2);
        CHECK(r.err.find("refusing") != std::string::npos);
        CHECK_FALSE(std::filesystem::exists(target / "ok" / "first.txt"));  // nothing written at all
        CHECK_FALSE(std::filesystem::exists(f.dir / "evil.txt"));
        CHECK_FALSE(std::filesystem::exists("/tmp/cspark-absolute-evil.txt"));
    }
    auto good = f.dir / "good.zip";
    {
        zip::writer w(good);
        w.add_directory("t/");
        w.add_file("t/a.json", "{}");
        w.finish();
    }
    auto r = f.run({"inspect", good.string(), "--extract", (f.dir / "out").string()});
    CHECK(r.rc == 0);
    CHECK(slurp(f.dir / "out" / "t" / "a.json") == "{}");
}
