// The fleet's counters in Prometheus text format, read back by a parser that
// refuses what a scraper would.
#include <cspark/metrics.hpp>

#include "../support/page_check.hpp"

#include <doctest/doctest.h>

using namespace cspark;
using std::chrono::milliseconds;

TEST_CASE("histogram buckets hold a duration at or under their bound") {
    duration_histogram h;
    h.observe(milliseconds(50));
    h.observe(milliseconds(1000));  // exactly 1 s: the le="1" bucket
    h.observe(milliseconds(1001));
    h.observe(std::chrono::hours(2));
    CHECK(h.counts[0] == 1);
    CHECK(h.counts[3] == 1);
    CHECK(h.counts[4] == 1);
    CHECK(h.counts.back() == 1);
    CHECK(h.count == 4);
    CHECK(h.sum_seconds == doctest::Approx(0.05 + 1 + 1.001 + 7200));
}

TEST_CASE("metrics: Prometheus text a scraper reads, with every family and escaped labels") {
    fleet_metrics m;
    m.migrations = 10;
    m.queued = 2;
    m.running = 3;
    m.done = 4;
    m.failed = 1;
    m.export_jobs_in_flight = 1;
    m.export_jobs = 5;
    m.import_jobs = 4;
    m.bytes_downloaded = 123456789;
    m.retries["job_slot_busy"] = 7;
    m.retries["odd \"reason\"\nhere\\"] = 1;
    m.export_job_seconds.observe(milliseconds(200));
    m.export_job_seconds.observe(milliseconds(7000));
    m.import_job_seconds.observe(milliseconds(400));
    CHECK(m.retries_total() == 8);
    auto text = to_prometheus(m);
    auto s = page_check::prometheus(text);
    CHECK(s.at("cspark_migrations{state=\"queued\"}") == 2);
    CHECK(s.at("cspark_migrations{state=\"done\"}") == 4);
    CHECK(s.at("cspark_migrations_planned") == 10);
    CHECK(s.at("cspark_jobs_in_flight{kind=\"export\"}") == 1);
    CHECK(s.at("cspark_jobs_created_total{kind=\"import\"}") == 4);
    CHECK(s.at("cspark_bytes_total{direction=\"download\"}") == 123456789);
    CHECK(s.at("cspark_retries_total{reason=\"job_slot_busy\"}") == 7);
    CHECK(s.at("cspark_retries_total{reason=\"odd \\\"reason\\\"\\nhere\\\\\"}") == 1);
    CHECK(s.at("cspark_job_duration_seconds_bucket{kind=\"export\",le=\"0.25\"}") == 1);
    CHECK(s.at("cspark_job_duration_seconds_bucket{kind=\"export\",le=\"10\"}") == 2);
    CHECK(s.at("cspark_job_duration_seconds_bucket{kind=\"export\",le=\"+Inf\"}") == 2);
    CHECK(s.at("cspark_job_duration_seconds_count{kind=\"import\"}") == 1);
    CHECK(s.at("cspark_job_duration_seconds_sum{kind=\"export\"}") == doctest::Approx(7.2));
    CHECK(to_prometheus(m, "x_").rfind("# HELP x_migrations ", 0) == 0);
}

TEST_CASE("metrics check: the parser refuses what a scraper would") {
    CHECK_THROWS(page_check::prometheus("a 1\n"));  // no TYPE
    CHECK_THROWS(page_check::prometheus("# TYPE a gauge\na{x=\"1} 1\n"));
    CHECK_THROWS(page_check::prometheus("# TYPE a gauge\na one\n"));
    CHECK_THROWS(page_check::prometheus("# TYPE a gauge\na 1"));  // no final newline
    CHECK_THROWS(page_check::prometheus("# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n"));
    CHECK_THROWS(page_check::prometheus("# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 3\n"));
    CHECK_NOTHROW(page_check::prometheus("# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 2\n"));
}
