#include "descriptors.hpp"

#include "cli/plan.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <filesystem>
#include <set>

namespace cspark::cli {

std::optional<descriptor_budget> fit_descriptors(const descriptor_demand& d) {
    std::size_t hosts = std::max<std::size_t>(d.hosts, 1);
    std::size_t want_flows = std::max<std::size_t>(d.concurrency, 1);
    std::size_t want_conns = std::clamp<std::size_t>(d.per_host, 1, want_flows);  // more than the flows are never busy
    std::size_t used = d.open + descriptor_reserve;
    if (d.limit <= used || d.limit - used < hosts + 1) return std::nullopt;
    std::size_t avail = d.limit - used;
    descriptor_budget b;
    b.per_host = std::min(want_conns, std::max<std::size_t>(avail / (2 * hosts), 1));
    b.concurrency = std::min(want_flows, avail - hosts * b.per_host);
    b.lowered = b.concurrency < want_flows || b.per_host < want_conns;
    return b;
}

std::size_t raise_descriptor_limit() {
    rlimit rl{};
    if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return 0;
    if (rl.rlim_cur < rl.rlim_max) {
        rlimit raised{rl.rlim_max, rl.rlim_max};
        if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) rl = raised;
    }
    return rl.rlim_cur == RLIM_INFINITY ? static_cast<std::size_t>(-1) / 2 : static_cast<std::size_t>(rl.rlim_cur);
}

std::size_t open_descriptors() {
    std::error_code ec;
    std::size_t n = 0;
    for (std::filesystem::directory_iterator it("/proc/self/fd", ec), end; !ec && it != end; it.increment(ec)) ++n;
    if (ec || n == 0) return 16;
    return n - 1;  // the iterator's own
}

// Fits the run in the descriptor limit (raised to the hard one first): with
// `ulimit -n` 1024 and --concurrency 2000, running out of descriptors midway
// would fail migrations at random; fewer flows at once finish them all.
// Hosts are counted by distinct scheme://authority of the base URLs (or
// environment names), plus one for download links on another host.
bool fit_to_descriptors(const std::vector<plan_entry>& plan, batch_options& run, transport_config& tc, const output& out) {
    auto host_of = [](const connection_options& c) {
        auto scheme = c.base_url.find("://");
        if (scheme == std::string::npos) return c.base_url + "|" + c.env;
        return c.base_url.substr(0, c.base_url.find('/', scheme + 3));  // scheme://authority
    };
    std::set<std::string> hosts;
    for (const auto& e : plan) {
        hosts.insert(host_of(e.source));
        hosts.insert(host_of(e.target));
    }
    descriptor_demand d;
    d.limit = raise_descriptor_limit();
    if (d.limit == 0) return true;  // unknown: run as asked
    std::size_t open_now = open_descriptors();
    d.open = open_now + batch_own_descriptors;
    d.hosts = hosts.size() + 1;
    d.concurrency = run.concurrency;
    d.per_host = tc.max_connections_per_host;
    auto fit = fit_descriptors(d);
    if (!fit) {
        out.error("batch: the descriptor limit (ulimit -n) is " + std::to_string(d.limit) + " with " +
                  std::to_string(open_now) + " open and " + std::to_string(batch_own_descriptors) +
                  " for the batch's own reactor and journal: too few for one migration over " + std::to_string(d.hosts) +
                  " hosts; raise it");
        return false;
    }
    if (fit->lowered)
        out.info("batch: " + std::to_string(fit->concurrency) + " migrations at once, " + std::to_string(fit->per_host) +
                 " connections per host (asked " + std::to_string(run.concurrency) + "): the descriptor limit (ulimit -n) is " +
                 std::to_string(d.limit) + "; raise it for more");
    run.concurrency = fit->concurrency;
    tc.max_connections_per_host = fit->per_host;
    return true;
}

}  // namespace cspark::cli
