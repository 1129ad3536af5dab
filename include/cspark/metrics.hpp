// Live counters of a fleet run (migrate_fleet), and their Prometheus text form.
//
//   auto mon = std::make_shared<cspark::fleet_monitor>();
//   fleet_options o;
//   o.monitor = mon;
//   ... while the fleet runs, from any thread:
//   write_file(cspark::to_prometheus(mon->snapshot()));
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

namespace cspark {

/// Job durations in fixed buckets (seconds), as a Prometheus histogram.
struct duration_histogram {
    /// Upper bounds of the buckets, in seconds (a last, implicit one is +Inf).
    static constexpr std::array<double, 14> bounds{0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600};
    std::array<std::uint64_t, bounds.size() + 1> counts{};  ///< per bucket (not cumulative); last = over every bound
    double sum_seconds = 0;
    std::uint64_t count = 0;

    void observe(std::chrono::milliseconds d) noexcept;
};

/// What a fleet has done so far. Migrations are counted once each: a
/// combined job's entries count one each, its jobs once.
struct fleet_metrics {
    std::uint64_t migrations = 0;  ///< entries given to migrate_fleet
    std::uint64_t queued = 0;      ///< not started yet
    std::uint64_t running = 0;     ///< in a flow now
    std::uint64_t done = 0, failed = 0;
    std::uint64_t unknown = 0;     ///< ended with an unknown outcome (resume them)
    std::uint64_t cancelled = 0;   ///< cancelled before or while running
    std::uint64_t export_jobs_in_flight = 0, import_jobs_in_flight = 0;
    std::uint64_t export_jobs = 0, import_jobs = 0;  ///< jobs created (a resumed job is not counted again)
    std::uint64_t bytes_downloaded = 0, bytes_uploaded = 0;
    std::uint64_t splits = 0;      ///< combined jobs split after a failure
    /// Retries by reason: the flows' ("job_slot_busy", "request_not_received",
    /// "download_resumed") and the clients' HTTP retries by error_name()
    /// ("rate_limited", "service_unavailable", "connection_closed", ...).
    std::map<std::string, std::uint64_t, std::less<>> retries;
    duration_histogram export_job_seconds, import_job_seconds;  ///< jobs that ended, as observed by polling
    std::uint64_t retries_total() const noexcept;
};

/// Prometheus text exposition format (version 0.0.4), for node_exporter's
/// textfile collector or any scraper: metric names start with `prefix`.
///   cspark_migrations{state="queued|running|done|failed|unknown|cancelled"}  gauge
///   cspark_migrations_planned                                               gauge
///   cspark_jobs_in_flight{kind="export|import"}                             gauge
///   cspark_jobs_created_total{kind}                                         counter
///   cspark_bytes_total{direction="download|upload"}                          counter
///   cspark_retries_total{reason}                                            counter
///   cspark_splits_total                                                     counter
///   cspark_job_duration_seconds{kind}                                       histogram
std::string to_prometheus(const fleet_metrics& m, std::string_view prefix = "cspark_");

/// Watches one or more fleets (give it to fleet_options::monitor).
/// Thread-safe: fleets on any threads update it, snapshot() may be called
/// from any thread. The clients' HTTP retries are counted from when the
/// fleet first saw them.
class fleet_monitor {
public:
    fleet_monitor();
    ~fleet_monitor();
    fleet_monitor(const fleet_monitor&) = delete;
    fleet_monitor& operator=(const fleet_monitor&) = delete;

    /// The counters now, the clients' retries included.
    fleet_metrics snapshot() const;

    struct impl;
    impl& get_impl() noexcept { return *impl_; }

private:
    std::unique_ptr<impl> impl_;
};

}  // namespace cspark
