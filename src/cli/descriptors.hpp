// How many flows a batch can run within the process's descriptor limit.
// Pure arithmetic (unit-tested), two small system reads, and the batch step
// that applies them.
#pragma once

#include "cli/cli.hpp"

#include <cspark/config.hpp>

#include <cstddef>
#include <optional>
#include <vector>

namespace cspark::cli {

struct plan_entry;

/// What a run asks for and what the process has.
struct descriptor_demand {
    std::size_t limit = 0;        ///< RLIMIT_NOFILE (soft)
    std::size_t open = 0;         ///< descriptors open now (stdio, journal, reactor, ...)
    std::size_t hosts = 1;        ///< distinct hosts the run may keep connections to
    std::size_t concurrency = 1;  ///< flows asked for
    std::size_t per_host = 32;    ///< connections per host asked for
};

/// Held back for short-lived descriptors: a metrics file written aside, the
/// journal's directory fsync, a resolver's /etc/hosts, a sanitizer's pipe.
inline constexpr std::size_t descriptor_reserve = 8;

/// What the batch opens after its descriptor check and keeps: the reactor
/// (epoll, eventfd, timerfd) and the journal.
inline constexpr std::size_t batch_own_descriptors = 4;

struct descriptor_budget {
    std::size_t concurrency = 1;
    std::size_t per_host = 1;
    bool lowered = false;  ///< either is below what was asked for
};

/// A flow holds at most one busy connection and one package file; each host
/// keeps up to per_host connections (idle ones too). Lowers connections per
/// host first (flows mostly wait on polls), then the flows, so that
/// hosts * per_host + concurrency fits in limit - open - reserve. nullopt
/// when not even one flow with one connection per host fits.
std::optional<descriptor_budget> fit_descriptors(const descriptor_demand& d);

/// Raises the soft descriptor limit to the hard one (as Go's runtime does);
/// returns the soft limit in force afterwards (0 = unknown).
std::size_t raise_descriptor_limit();

/// For `batch`: raises the limit, then lowers `run.concurrency` and
/// `tc.max_connections_per_host` to what fits, saying so; false (said) when
/// not even one migration fits.
bool fit_to_descriptors(const std::vector<plan_entry>& plan, batch_options& run, transport_config& tc, const output& out);

/// Descriptors this process has open now (from /proc/self/fd; a guess of 16
/// where that cannot be read).
std::size_t open_descriptors();

}  // namespace cspark::cli
