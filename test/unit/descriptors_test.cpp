// The batch's descriptor budget: what fits is left alone, connections per
// host are lowered before flows, and a limit too small for one flow is said.
#include "cli/descriptors.hpp"

#include <doctest/doctest.h>

using namespace cspark::cli;

namespace {
descriptor_demand demand(std::size_t limit, std::size_t open, std::size_t hosts, std::size_t flows, std::size_t per_host = 32) {
    descriptor_demand d;
    d.limit = limit;
    d.open = open;
    d.hosts = hosts;
    d.concurrency = flows;
    d.per_host = per_host;
    return d;
}
std::size_t peak(const descriptor_demand& d, const descriptor_budget& b) {
    return d.open + descriptor_reserve + d.hosts * b.per_host + b.concurrency;
}
}  // namespace

TEST_CASE("what fits the descriptor limit is run as asked") {
    auto d = demand(1024, 7, 3, 64);
    auto b = fit_descriptors(d);
    REQUIRE(b);
    CHECK(b->concurrency == 64);
    CHECK(b->per_host == 32);
    CHECK_FALSE(b->lowered);
}

TEST_CASE("connections per host are never more than the flows") {
    auto b = fit_descriptors(demand(1024, 7, 2, 4));
    REQUIRE(b);
    CHECK(b->per_host == 4);
    CHECK_FALSE(b->lowered);
}

TEST_CASE("many flows under ulimit -n 1024 are lowered to what fits") {
    auto d = demand(1024, 7, 2, 2000);
    auto b = fit_descriptors(d);
    REQUIRE(b);
    CHECK(b->lowered);
    CHECK(b->per_host == 32);  // connections were not the problem
    CHECK(b->concurrency == 1024 - 7 - descriptor_reserve - 64);
    CHECK(peak(d, *b) == 1024);
}

TEST_CASE("a tight limit lowers connections per host first, then flows, and always fits") {
    for (std::size_t limit = 10; limit <= 300; ++limit) {
        for (std::size_t hosts : {1, 2, 5, 21}) {
            CAPTURE(limit);
            CAPTURE(hosts);
            auto d = demand(limit, 7, hosts, 64);
            auto b = fit_descriptors(d);
            if (limit < 7 + descriptor_reserve + hosts + 1) {
                CHECK_FALSE(b);
                continue;
            }
            REQUIRE(b);
            CHECK(b->concurrency >= 1);
            CHECK(b->per_host >= 1);
            CHECK(peak(d, *b) <= limit);
        }
    }
    auto b = fit_descriptors(demand(24, 7, 2, 64));
    REQUIRE(b);
    CHECK(b->per_host == 2);
    CHECK(b->concurrency == 5);
}

TEST_CASE("open descriptors are counted") {
    auto n = open_descriptors();
    CHECK(n >= 3);  // stdio at least
    CHECK(n < 100000);
}
