#include <cspark/error.hpp>

#include "core/error_traits.hpp"

#include <boost/asio/error.hpp>

#include <doctest/doctest.h>

#include <set>
#include <system_error>

using namespace cspark;

TEST_CASE("every errc has its own message in the cspark category") {
    std::set<std::string> seen;
    for (int i = static_cast<int>(errc::invalid_base_url); i <= static_cast<int>(errc::import_partially_failed); ++i) {
        error_code ec = static_cast<errc>(i);
        CHECK(ec.category().name() == std::string("cspark"));
        auto m = ec.message();
        CAPTURE(i);
        CHECK(m.find("unknown cspark error") == std::string::npos);
        CHECK(seen.insert(m).second);
    }
}

TEST_CASE("HTTP statuses map to the SDK's named errors") {
    CHECK(errc_from_http_status(400) == errc::bad_request);
    CHECK(errc_from_http_status(401) == errc::unauthorized);
    CHECK(errc_from_http_status(409) == errc::conflict);
    CHECK(errc_from_http_status(429) == errc::rate_limited);
    CHECK(errc_from_http_status(500) == errc::server_error);
    CHECK(errc_from_http_status(504) == errc::gateway_timeout);
    CHECK(errc_from_http_status(418) == errc::http_status);
}

TEST_CASE("spark_error carries the diagnostics and says them in what()") {
    diagnostics d;
    d.http_status = 500;
    d.api_code = "INVALID_JOB_ID";
    d.api_type = "invalid_input";
    d.request_id = "rid-1";
    d.method = "GET";
    d.url = "http://h/t/api/v4/export/x/status";
    try {
        throw_if(errc::server_error, d);
        FAIL("throw_if did not throw");
    } catch (const spark_error& e) {
        CHECK(e.code() == errc::server_error);
        CHECK(e.diag().api_code == "INVALID_JOB_ID");
        std::string what = e.what();
        CHECK(what.find("INVALID_JOB_ID") != std::string::npos);
        CHECK(what.find("rid-1") != std::string::npos);
        CHECK(what.find("status 500") != std::string::npos);
    }
    CHECK_NOTHROW(throw_if({}, d));
}

TEST_CASE("cspark codes convert to std::error_code") {
    std::error_code sec = error_code(errc::conflict);
    CHECK(sec.message() == error_code(errc::conflict).message());
}

TEST_CASE("every errc has a stable, distinct machine name") {
    std::set<std::string> seen;
    for (int i = static_cast<int>(errc::invalid_base_url); i <= static_cast<int>(errc::import_partially_failed); ++i) {
        auto name = std::string(error_name(static_cast<errc>(i)));
        CAPTURE(i);
        CHECK(name != "unknown");
        CHECK(name.find_first_not_of("abcdefghijklmnopqrstuvwxyz_") == std::string::npos);
        CHECK(seen.insert(name).second);
    }
    CHECK(error_name(errc::invalid_base_url) == "invalid_base_url");  // the table's first and last rows
    CHECK(error_name(errc::not_found) == "not_found");
    CHECK(error_name(errc::job_failed) == "job_failed");
    CHECK(error_name(errc::internal_error) == "internal_error");
    CHECK(error_name(errc::import_partially_failed) == "import_partially_failed");
    CHECK(error_name(error_code(999, error_category())) == "unknown");
    CHECK(error_name(error_code{}) == "ok");
    CHECK(error_name(error_code(ECANCELED, boost::system::system_category())) == "cancelled");
    CHECK(error_name(error_code(EPIPE, boost::system::system_category())) == "system_error");
}

TEST_CASE("the errc traits table: one row per error, its columns consistent with each other") {
    using cspark::detail::traits_of;
    for (int i = static_cast<int>(errc::invalid_base_url); i <= static_cast<int>(errc::import_partially_failed); ++i) {
        auto ec = make_error_code(static_cast<errc>(i));
        CAPTURE(error_name(ec));
        auto t = traits_of(ec);
        if (t.before_send) CHECK(t.check_may_pass);        // nothing reached the server: asking again is safe
        if (t.before_send) CHECK_FALSE(t.may_have_reached);
        if (t.unknown_outcome) CHECK_FALSE(t.entry_at_fault);  // an unknown outcome is resumed, never split
        if (t.transfer_dropped) CHECK(t.check_may_pass);
    }
    CHECK(traits_of(boost::asio::error::connection_reset).check_may_pass);  // raw socket errors
    CHECK_FALSE(traits_of(boost::asio::error::connection_reset).may_have_reached);
    CHECK_FALSE(traits_of({}).unknown_outcome);
    CHECK(traits_of(errc::import_outcome_unknown).unknown_outcome);
    CHECK_FALSE(traits_of(errc::import_partially_failed).unknown_outcome);  // the import happened: final
}
