// Test support: the ImpEx API against an in-process emulator that runs in
// real time with short jobs, clients with quick retries, and helpers to run
// verbs and read the emulator's job history.
#pragma once

#include "support/emu_fixture.hpp"

#include <cspark/impex.hpp>

#include <optional>
#include <utility>

namespace cspark::test {

// Virtual time shared by the emulator and the clients: a client's wait (a
// poll interval, a retry backoff) moves the clock, so the emulator's jobs
// finish during it and no test waits in real time. A test that needs real
// time (cancelling mid-transfer) passes a real clock in its config.
struct impex_fixture {
    std::shared_ptr<timer_service> clock;
    emu_fixture f;
    explicit impex_fixture(emulator_config cfg = fast(), fleet_spec fleet = small_fleet())
        : clock(cfg.clock ? cfg.clock : std::make_shared<manual_timer_service>(true)), f(with_clock(cfg, clock), fleet) {}
    static emulator_config fast() {
        emulator_config c;
        c.job_duration = std::chrono::milliseconds(30);
        return c;
    }
    static emulator_config with_clock(emulator_config c, std::shared_ptr<timer_service> clock) {
        c.clock = std::move(clock);
        return c;
    }
    client_config config(const std::string& tenant, int retries = 2) {
        auto c = f.config(tenant);
        c.max_retries = retries;
        c.retry_interval = std::chrono::milliseconds(5);
        c.timer = clock;
        return c;
    }
    std::unique_ptr<impex> make(const std::string& tenant, int retries = 2) {
        return std::make_unique<impex>(client(f.io.get_executor(), config(tenant, retries)));
    }
    std::filesystem::path dir(const std::string& name) {
        auto d = f.scratch / name;
        std::filesystem::create_directories(d);
        return d;
    }
    template <class T, class Op>
    std::pair<error_code, T> run(Op op) {
        std::optional<std::pair<error_code, T>> out;
        op([&](error_code ec, T v) { out.emplace(ec, std::move(v)); });
        run_until(f.io, [&] { return out.has_value(); });
        return std::move(*out);
    }
    json::value state() { return f.emu->state(); }
    /// Starts an export of folder-1/service-1 through the verbs and waits for it.
    job_status finished_export(impex& spark) {
        auto [ec, created] = run<job_status>([&](auto h) {
            spark.exports.initiate(export_request{.services = {"folder-1/service-1"}}, h);
        });
        REQUIRE_FALSE(ec);
        std::string id = created.id;
        auto [ec2, done] = run<job_status>([&](auto h) {
            spark.exports.wait(id, {.retry_interval = std::chrono::milliseconds(10)}, h);
        });
        REQUIRE_FALSE(ec2);
        return done;
    }
    /// Versions of folder/service in the tenant (0 when the service is absent).
    std::size_t versions(const std::string& tenant, const std::string& folder, const std::string& service) {
        auto st = state();
        const auto* t = st.at("tenants").as_object().if_contains(tenant);
        if (!t) return 0;
        const auto* f = t->at("folders").as_object().if_contains(folder);
        if (!f) return 0;
        const auto* s = f->at("services").as_object().if_contains(service);
        return s ? s->at("versions").as_array().size() : 0;
    }
    std::size_t jobs(const std::string& kind, const std::string& tenant = "") {
        std::size_t n = 0;
        auto st = state();
        for (const auto& j : st.at("jobs").as_array())
            if (j.at("kind") == json::value(kind) && (tenant.empty() || j.at("tenant") == json::value(tenant))) ++n;
        return n;
    }
};

inline export_request quick(export_request r) {
    r.poll.retry_interval = std::chrono::milliseconds(10);
    return r;
}


}  // namespace cspark::test
