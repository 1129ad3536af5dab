#include "descriptors.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <filesystem>

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

}  // namespace cspark::cli
