// Test support: an in-process emulator on 127.0.0.1 with held virtual time,
// clients for its tenants, and helpers for the ImpEx calls made raw.
#pragma once

#include "support/loopback.hpp"

#include <cspark/emulator.hpp>

#include "core/multipart.hpp"

#include <boost/asio/read.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <filesystem>
#include <fstream>
#include <unistd.h>

namespace cspark::test {

namespace json = boost::json;

inline fleet_spec small_fleet() {
    fleet_spec f;
    f.tenants = 2;
    f.target_tenants = 2;
    f.folders = 2;
    f.services = 2;
    f.versions = 3;
    return f;
}

struct emu_fixture {
    asio::io_context io;
    std::shared_ptr<manual_timer_service> clock = std::make_shared<manual_timer_service>(false);
    std::unique_ptr<emulator> emu;
    std::filesystem::path scratch;

    explicit emu_fixture(emulator_config cfg = {}, fleet_spec fleet = small_fleet()) {
        if (!cfg.clock) cfg.clock = clock;
        if (cfg.job_duration == emulator_config{}.job_duration) cfg.job_duration = 1000ms;
        emu = std::make_unique<emulator>(io.get_executor(), cfg);
        emu->generate(fleet);
        emu->start();
        scratch = std::filesystem::temp_directory_path() /
                  ("cspark-emu-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter()++));
        std::filesystem::create_directories(scratch);
    }
    ~emu_fixture() {
        emu->stop();
        // A test must not leave work behind: every operation it started has
        // completed (or was cancelled) by now, so the io_context runs dry.
        io.restart();
        for (int i = 0; i < 1000 && io.poll() > 0; ++i) {
        }
        CHECK_MESSAGE(io.stopped(), "the test left work on its io_context (a pending operation or timer)");
        std::error_code ignored;
        std::filesystem::remove_all(scratch, ignored);
    }
    static int& counter() {
        static int n = 0;
        return n;
    }

    client_config config(const std::string& tenant) const {
        auto creds = emu->credentials(tenant);
        client_config c;
        c.base_url = emu->base_url(tenant);
        c.api_key = creds.api_key;
        c.use_environment = false;
        c.max_retries = 0;
        return c;
    }
    client make(const std::string& tenant) { return client(io.get_executor(), config(tenant)); }

    send_result call(client& c, http_method m, const std::string& target, const std::string& body = {}) {
        request r;
        r.method = m;
        r.target = target;
        r.body = body;
        if (!body.empty()) r.content_type = "application/json";
        return send(io, c, std::move(r));
    }
    static json::value js(const send_result& r) { return json::parse(r.resp.body); }

    /// Starts an export; returns the job id (empty on failure, with the result).
    std::string start_export(client& c, const std::string& body, send_result* out = nullptr) {
        auto r = call(c, http_method::post, "export", body);
        if (out) *out = r;
        if (r.ec) return {};
        return std::string(js(r).at("id").as_string());
    }
    json::object status(client& c, const std::string& kind, const std::string& id) {
        auto r = call(c, http_method::get, kind + "/" + id + "/status");
        REQUIRE_MESSAGE(!r.ec, r.resp.diag.to_string());
        return js(r).as_object();
    }
    void finish_jobs() { clock->advance(5s); }

    /// Exports, finishes the job, downloads the package; returns its path.
    std::filesystem::path export_package(client& c, const std::string& body, json::object* final_status = nullptr) {
        auto id = start_export(c, body);
        REQUIRE(!id.empty());
        finish_jobs();
        auto st = status(c, "export", id);
        REQUIRE(st.at("status") == "closed");
        auto url = std::string(st.at("outputs").at("files").at(0).at("file").as_string());
        auto path = scratch / (id + ".zip");
        struct file_sink : body_sink {
            std::ofstream out;
            void write(std::span<const char> d, error_code&) override { out.write(d.data(), static_cast<std::streamsize>(d.size())); }
        } sink;
        sink.out.open(path, std::ios::binary);
        request r{.target = url, .sink = &sink};
        auto res = send(io, c, r);
        REQUIRE_MESSAGE(!res.ec, res.resp.diag.to_string());
        sink.out.close();
        if (final_status) *final_status = st;
        return path;
    }

    /// POSTs a multipart import built from parts (in the order given).
    send_result post_import(client& c, const std::string& entity, const std::filesystem::path& file,
                            bool entity_first = true, std::string entity_type = "", std::string filename = "package.zip") {
        std::mt19937_64 rng(42);
        auto b = detail::make_boundary(rng);
        std::vector<std::unique_ptr<body_source>> parts;
        auto add_entity = [&](bool first) {
            parts.push_back(make_string_source(detail::multipart_part_head(b, "importRequestEntity", "", entity_type, first) + entity));
        };
        auto add_file = [&](bool first) {
            parts.push_back(make_string_source(detail::multipart_part_head(b, "file", filename, "application/zip", first)));
            error_code ec;
            parts.push_back(make_file_source(file, ec));
            REQUIRE_FALSE(ec);
        };
        if (entity_first) {
            add_entity(true);
            add_file(false);
        } else {
            add_file(true);
            add_entity(false);
        }
        parts.push_back(make_string_source(detail::multipart_tail(b)));
        auto src = make_concat_source(std::move(parts));
        request r{.method = http_method::post, .target = "import", .content_type = "multipart/form-data; boundary=" + b,
                  .source = src.get()};
        return send(io, c, r);
    }
};

inline std::string mapping_entity(const std::string& source, const std::string& dest, const std::string& action,
                                  const std::string& extra = "") {
    return R"({"inputs":{"services_modify":[{"service_uri_source":")" + source + R"(","service_uri_destination":")" + dest +
           R"(","update_version_type":"minor"}]},"services_existing":")" + action + "\"" + extra + "}";
}

/// Sends raw bytes to 127.0.0.1:port on `io` (which also runs the server) and
/// returns everything the server sends back until it closes or `bound` passes.
inline std::string raw_exchange(asio::io_context& io, std::uint16_t port, const std::string& bytes,
                                std::chrono::seconds bound = 10s) {
    auto s = std::make_shared<asio::ip::tcp::socket>(io);
    auto out = std::make_shared<std::string>();
    auto buf = std::make_shared<std::array<char, 4096>>();
    bool done = false;
    std::function<void()> read_more = [&, s, out, buf] {
        s->async_read_some(asio::buffer(*buf), [&, s, out, buf](error_code ec, std::size_t n) {
            out->append(buf->data(), n);
            if (ec) {
                done = true;
                return;
            }
            read_more();
        });
    };
    s->async_connect({asio::ip::make_address("127.0.0.1"), port}, [&, s](error_code ec) {
        if (ec) {
            done = true;
            return;
        }
        asio::async_write(*s, asio::buffer(bytes), [&, s](error_code, std::size_t) {
            error_code ignored;
            s->shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
            read_more();
        });
    });
    auto until = std::chrono::steady_clock::now() + bound;
    while (!done && std::chrono::steady_clock::now() < until) {
        io.restart();
        io.run_one_for(50ms);
    }
    error_code ignored;
    s->close(ignored);
    for (int i = 0; i < 100 && !done; ++i) {  // let the aborted read complete before locals go
        io.restart();
        io.run_one_for(10ms);
    }
    return *out;
}

}  // namespace cspark::test
