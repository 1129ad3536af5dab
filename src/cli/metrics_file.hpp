// `batch --metrics FILE`: the fleet's counters in Prometheus text format,
// replaced every second (written aside, then renamed: a scraper never reads
// half a file) and once at the end. A write that fails is said once; the run
// goes on.
#pragma once

#include "cli/cli.hpp"

#include <cspark/metrics.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <memory>
#include <string>

namespace cspark::cli {

class metrics_file {
public:
    /// `skipped`: migrations an earlier run finished (the journal says),
    /// counted as done. An empty `path` writes nothing.
    metrics_file(boost::asio::io_context& io, std::string path, std::shared_ptr<fleet_monitor> mon, std::size_t skipped,
                 const output& out)
        : timer_(io), path_(std::move(path)), mon_(std::move(mon)), skipped_(skipped), out_(out) {}
    static constexpr std::chrono::seconds interval{1};
    void start();
    void stop();

private:
    void arm();
    void write();
    boost::asio::steady_timer timer_;
    std::string path_;
    std::shared_ptr<fleet_monitor> mon_;
    std::size_t skipped_;
    const output& out_;
    bool stopped_ = false, warned_ = false;
};

}  // namespace cspark::cli
