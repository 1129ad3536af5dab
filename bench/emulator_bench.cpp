// Emulator capacity: N concurrent keep-alive connections on one server
// thread, and the download rate of a large package on loopback.
//
// The emulator runs as a child process (cspark-emulator) so that neither side
// shares the other's descriptor limit. Prints one table.
//
//   emulator-bench [--connections 10000] [--download-mb 200] [--threads 1]
#include <cspark/client.hpp>
#include <cspark/impex.hpp>

#include "bench_args.hpp"
#include "emulator_child.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <boost/json/parse.hpp>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>
#include <sys/resource.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace asio = boost::asio;
namespace json = boost::json;
using clock_t_ = std::chrono::steady_clock;

namespace {

using bench::emulator_child;

// Opens n connections, sends one request on each, keeps them all open, then
// sends a second round on all of them. Returns {connected, ok responses, seconds}.
struct conn_result {
    std::size_t connected = 0, ok = 0;
    double connect_s = 0, round_s = 0;
};

conn_result hold_connections(const std::string& host, std::uint16_t port, const std::string& key, std::size_t n) {
    asio::io_context io;
    std::vector<std::unique_ptr<asio::ip::tcp::socket>> socks;
    conn_result r;
    auto ep = asio::ip::tcp::endpoint(asio::ip::make_address(host), port);
    auto t0 = clock_t_::now();
    std::size_t pending = 0;
    for (std::size_t i = 0; i < n; ++i) {
        auto s = std::make_unique<asio::ip::tcp::socket>(io);
        ++pending;
        s->async_connect(ep, [&, raw = s.get()](boost::system::error_code ec) {
            --pending;
            if (!ec) ++r.connected;
            (void)raw;
        });
        socks.push_back(std::move(s));
        if (socks.size() % 1000 == 0) io.poll();  // keep the listen backlog drained
    }
    io.restart();
    while (pending > 0 && io.run_one() > 0) {}
    r.connect_s = std::chrono::duration<double>(clock_t_::now() - t0).count();

    std::string req = "GET /tenant-0001/api/v4/export/status HTTP/1.1\r\nHost: " + host +
                      "\r\nx-synthetic-key: " + key + "\r\nx-tenant-name: tenant-0001\r\n\r\n";
    auto t1 = clock_t_::now();
    for (int round = 0; round < 2; ++round) {
        std::vector<std::unique_ptr<asio::streambuf>> bufs;
        for (auto& s : socks) {
            if (!s->is_open()) continue;
            auto buf = std::make_unique<asio::streambuf>();
            auto* b = buf.get();
            bufs.push_back(std::move(buf));
            ++pending;
            asio::async_write(*s, asio::buffer(req), [&, sp = s.get(), b](boost::system::error_code ec, std::size_t) {
                if (ec) {
                    --pending;
                    return;
                }
                asio::async_read_until(*sp, *b, "\r\n\r\n", [&, sp, b](boost::system::error_code ec2, std::size_t hdr) {
                    std::string head(asio::buffers_begin(b->data()), asio::buffers_begin(b->data()) + static_cast<long>(hdr));
                    auto cl = head.find("Content-Length: ");
                    std::size_t len = cl == std::string::npos ? 0 : std::stoul(head.substr(cl + 16));
                    std::size_t have = b->size() - hdr;
                    auto finish = [&, ok = !ec2 && head.find(" 200 ") != std::string::npos](bool good) {
                        --pending;
                        if (ok && good) ++r.ok;
                    };
                    if (ec2) return finish(false);
                    if (have >= len) return finish(true);
                    asio::async_read(*sp, *b, asio::transfer_exactly(len - have),
                                     [finish](boost::system::error_code e3, std::size_t) { finish(!e3); });
                });
            });
        }
        io.restart();
        while (pending > 0 && io.run_one() > 0) {}
        for (auto& b : bufs) (void)b;
    }
    r.round_s = std::chrono::duration<double>(clock_t_::now() - t1).count();
    return r;
}

// One request on `io` (which nothing else runs), to its end; throws on failure.
cspark::response sync_send(asio::io_context& io, cspark::client& c, cspark::request r) {
    bool done = false;
    cspark::response out;
    cspark::error_code ec;
    c.async_send(r, [&](cspark::error_code e, cspark::response resp) {
        ec = e;
        out = std::move(resp);
        done = true;
    });
    io.restart();
    while (!done && io.run_one() > 0) {}
    if (ec) throw cspark::spark_error(ec, out.diag);
    return out;
}

struct download_result {
    std::uint64_t bytes = 0;
    double seconds = 0;
    bool ok = false;
};

// The same package three ways into files on one disk: `curl -o`, and
// cspark's verified download (SHA-256 against file_hash, .part then rename),
// durable (fsync) and not. Best of `rounds`, alternating, so the page cache
// and the disk treat them alike.
struct to_disk {
    double curl_s = 1e9, cspark_s = 1e9, cspark_durable_s = 1e9;
    std::uint64_t bytes = 0;
    bool ok = true;
};

to_disk download_to_disk(const std::string& url, const std::string& key, const std::string& link, const std::string& hash,
                         int rounds) {
    to_disk r;
    auto dir = std::filesystem::temp_directory_path() / ("cspark-emulator-bench-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    asio::io_context io;
    cspark::impex spark(cspark::client(io.get_executor(), {.base_url = url + "/tenant-0001", .api_key = key,
                                                           .use_environment = false}));
    for (int i = 0; i < rounds; ++i) {
        auto curl_out = dir / "curl.zip";
        std::string cmd = "curl -s -o '" + curl_out.string() + "' '" + link + "'";
        auto t0 = clock_t_::now();
        r.ok = r.ok && std::system(cmd.c_str()) == 0;
        r.curl_s = std::min(r.curl_s, std::chrono::duration<double>(clock_t_::now() - t0).count());
        r.bytes = std::filesystem::file_size(curl_out);
        std::filesystem::remove(curl_out);
        for (bool durable : {false, true}) {
            cspark::download_options o{.directory = dir, .file_name = "cspark.zip", .expected_hash = hash};
            o.durable = durable;
            bool done = false;
            cspark::error_code ec;
            auto t1 = clock_t_::now();
            spark.exports.download(cspark::export_file{link, hash}, o, [&](cspark::error_code e, cspark::downloaded_file f) {
                ec = e;
                r.ok = r.ok && f.verified;
                done = true;
            });
            io.restart();
            while (!done && io.run_one() > 0) {}
            double s = std::chrono::duration<double>(clock_t_::now() - t1).count();
            (durable ? r.cspark_durable_s : r.cspark_s) = std::min(durable ? r.cspark_durable_s : r.cspark_s, s);
            r.ok = r.ok && !ec;
            std::filesystem::remove(dir / "cspark.zip");
        }
    }
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
    return r;
}

download_result download(const std::string& url, const std::string& key, std::string* link_out = nullptr,
                         std::string* hash_out = nullptr) {
    asio::io_context io;
    cspark::client c(io.get_executor(), {.base_url = url + "/tenant-0001", .api_key = key, .use_environment = false});
    download_result d;
    auto run = [&](cspark::request r, cspark::response& out) { out = sync_send(io, c, std::move(r)); };
    cspark::response resp;
    run({.method = cspark::http_method::post, .target = "export",
         .body = R"({"inputs":{"services":["folder-1/service-1"]}})", .content_type = "application/json"},
        resp);
    std::string id(json::parse(resp.body).at("id").as_string());
    std::string file;
    for (int i = 0; i < 200 && file.empty(); ++i) {  // job of 200 ms: poll with a bound
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        run({.target = "export/" + id + "/status"}, resp);
        auto st = json::parse(resp.body);
        if (st.at("status") == "closed") {
            file = std::string(st.at("outputs").at("files").at(0).at("file").as_string());
            if (hash_out) *hash_out = std::string(st.at("outputs").at("files").at(0).at("file_hash").as_string());
        }
    }
    struct counter : cspark::body_sink {
        std::uint64_t n = 0;
        void write(std::span<const char> data, cspark::error_code&) override { n += data.size(); }
    } sink;
    if (link_out) *link_out = file;
    auto t0 = clock_t_::now();
    run({.target = file, .sink = &sink}, resp);
    d.seconds = std::chrono::duration<double>(clock_t_::now() - t0).count();
    d.bytes = sink.n;
    d.ok = true;
    return d;
}

// Latency of status calls to one tenant while another tenant's export of
// `package_mb` is being built: POSTs the export from a second thread, then
// times describe calls until the export's job is closed.
struct stall_result {
    std::vector<double> ms;  // one per status call
    double build_s = 0;
    bool ok = false;
};

stall_result status_during_build(const std::string& url, const std::map<std::string, std::string>& keys) {
    stall_result out;
    auto sync_client = [&](asio::io_context& io, const std::string& tenant) {
        return cspark::client(io.get_executor(), {.base_url = url + "/" + tenant, .api_key = keys.at(tenant), .use_environment = false});
    };
    auto send = [](asio::io_context& io, cspark::client& c, cspark::request r) { return sync_send(io, c, std::move(r)); };
    std::string id;
    std::mutex m;
    auto t0 = clock_t_::now();
    std::thread poster([&] {
        asio::io_context io;
        auto c = sync_client(io, "tenant-0001");
        auto r = send(io, c, {.method = cspark::http_method::post, .target = "export",
                              .body = R"({"inputs":{"services":["folder-1/service-1"]}})", .content_type = "application/json"});
        std::lock_guard lock(m);
        id = std::string(json::parse(r.body).at("id").as_string());
    });
    asio::io_context io;
    auto other = sync_client(io, "tenant-0002");
    auto owner = sync_client(io, "tenant-0001");
    for (int i = 0; i < 1000000; ++i) {
        auto a = clock_t_::now();
        send(io, other, {.target = "export/status"});
        out.ms.push_back(std::chrono::duration<double, std::milli>(clock_t_::now() - a).count());
        std::string job;
        {
            std::lock_guard lock(m);
            job = id;
        }
        if (job.empty() || i % 10 != 0) continue;
        auto st = json::parse(send(io, owner, {.target = "export/" + job + "/status"}).body);
        if (st.at("status") == "closed") {
            out.ok = !st.at("outputs").at("files").as_array().empty();
            break;
        }
    }
    out.build_s = std::chrono::duration<double>(clock_t_::now() - t0).count();
    poster.join();
    std::sort(out.ms.begin(), out.ms.end());
    return out;
}

double percentile(const std::vector<double>& sorted, double p) {
    if (sorted.empty()) return 0;
    return sorted[std::min(sorted.size() - 1, static_cast<std::size_t>(p * static_cast<double>(sorted.size())))];
}

}  // namespace

int main(int argc, char** argv) {
    std::size_t connections = 10000, download_mb = 200, threads = 1, package_mb = 500;
    const char* usage =
        "usage: emulator-bench [--connections N] [--download-mb MB] [--package-mb MB] [--threads N]\n"
        "  Runs cspark-emulator as a child and prints one table: N keep-alive connections held on\n"
        "  --threads server threads (default 10000 on 1), the download rate of a --download-mb package\n"
        "  (default 200), and status-call latency while a --package-mb export (default 500) is built,\n"
        "  inside the request (as before) and on the builder thread.\n";
    auto set = [](std::size_t& to) { return [&to](long v) { to = static_cast<std::size_t>(v); }; };
    if (auto rc = bench::parse_args(argc, argv, "emulator-bench", usage,
                                    {{"--connections", set(connections)}, {"--download-mb", set(download_mb)},
                                     {"--package-mb", set(package_mb)}, {"--threads", set(threads)}}))
        return *rc;
    rlimit rl{};
    ::getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < connections + 64) {
        std::cerr << "emulator-bench: ulimit -n is " << rl.rlim_cur << ", need " << connections + 64 << "\n";
        return 2;
    }

    auto emu = bench::start_emulator({"--tenants", "1", "--threads", std::to_string(threads)}, 1);
    auto port = static_cast<std::uint16_t>(std::stoi(emu.url.substr(emu.url.rfind(':') + 1)));
    auto held = hold_connections("127.0.0.1", port, emu.keys.begin()->second, connections);
    long conn_rss = bench::peak_rss_kib(emu.pid);
    bench::stop_emulator(emu);

    auto big = bench::start_emulator({"--tenants", "1", "--package-bytes", std::to_string(download_mb * 1024 * 1024),
                                      "--job-ms", "200", "--max-upload-mb", std::to_string(download_mb * 2)},
                                     1);
    std::string link, hash;
    auto d = download(big.url, big.keys.begin()->second, &link, &hash);
    long dl_rss = bench::peak_rss_kib(big.pid);
    auto disk = download_to_disk(big.url, big.keys.begin()->second, link, hash, 3);
    bench::stop_emulator(big);

    // Status calls while a large export is built: inside the request (the
    // old way, kept as --inline-package-bytes) and on the builder thread.
    auto package_bytes = std::to_string(package_mb * 1024 * 1024);
    auto inline_emu = bench::start_emulator({"--tenants", "2", "--package-bytes", package_bytes, "--job-ms", "0",
                                             "--inline-package-bytes", package_bytes},
                                            2);
    auto stalled = status_during_build(inline_emu.url, inline_emu.keys);
    bench::stop_emulator(inline_emu);
    auto bg_emu = bench::start_emulator({"--tenants", "2", "--package-bytes", package_bytes, "--job-ms", "0"}, 2);
    auto free_ = status_during_build(bg_emu.url, bg_emu.keys);
    bench::stop_emulator(bg_emu);

    double gbps = d.bytes / d.seconds / 1e9;
    std::printf("\n%-44s %14zu\n", "emulator server threads", threads);
    std::printf("%-44s %14zu\n", "connections opened and held", held.connected);
    std::printf("%-44s %14.2f\n", "  seconds to connect all", held.connect_s);
    std::printf("%-44s %14zu\n", "  200 responses (2 requests per connection)", held.ok);
    std::printf("%-44s %14.2f\n", "  seconds for both rounds", held.round_s);
    std::printf("%-44s %14.0f\n", "  requests per second", held.ok / held.round_s);
    std::printf("%-44s %14.1f\n", "  emulator peak RSS (MiB)", conn_rss / 1024.0);
    std::printf("%-44s %14.1f\n", "download size (MiB)", d.bytes / 1048576.0);
    std::printf("%-44s %14.3f\n", "  seconds", d.seconds);
    std::printf("%-44s %14.2f\n", "  GB/s (cspark::client into a counting sink)", gbps);
    std::printf("%-44s %14.1f\n", "  emulator peak RSS (MiB)", dl_rss / 1024.0);
    auto mbps = [&](double secs) { return disk.bytes / secs / 1e6; };
    std::printf("%-44s %14s\n", "the same package into a file (best of 3)", (std::to_string(disk.bytes >> 20) + " MiB").c_str());
    std::printf("%-44s %14.0f\n", "  curl -o, MB/s", mbps(disk.curl_s));
    std::printf("%-44s %14.0f\n", "  cspark verified (SHA-256), MB/s", mbps(disk.cspark_s));
    std::printf("%-44s %14.2f\n", "    vs curl", disk.curl_s / disk.cspark_s);
    std::printf("%-44s %14.0f\n", "  cspark verified + fsync, MB/s", mbps(disk.cspark_durable_s));
    for (const auto* r : {&stalled, &free_}) {
        std::printf("%-44s %14s\n", r == &stalled ? "status calls while a package is built inside"
                                                  : "status calls while a package is built aside",
                    (std::to_string(package_mb) + " MiB").c_str());
        std::printf("%-44s %14zu\n", "  calls", r->ms.size());
        std::printf("%-44s %14.2f\n", "  p50 ms", percentile(r->ms, 0.50));
        std::printf("%-44s %14.2f\n", "  p99 ms", percentile(r->ms, 0.99));
        std::printf("%-44s %14.2f\n", "  max ms", r->ms.empty() ? 0.0 : r->ms.back());
        std::printf("%-44s %14.2f\n", "  seconds until the export job closed", r->build_s);
    }
    bool ok = held.connected == connections && held.ok == 2 * connections && d.ok && stalled.ok && free_.ok && disk.ok;
    std::printf("%-44s %14s\n", "all connections served", ok ? "yes" : "NO");
    std::fflush(stdout);
    return ok ? 0 : 1;
}
