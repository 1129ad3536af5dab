// The HAR trace: a whole HAR 1.2 document after every exchange (a crash
// leaves a readable file), and no secret in it.
#include <cspark/error.hpp>
#include <cspark/trace.hpp>

#include <boost/json/parse.hpp>

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

using namespace cspark;
namespace json = boost::json;

namespace {

json::value read_har(const std::filesystem::path& p) {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return json::parse(ss.str());  // throws when the file is not whole JSON
}

traced_exchange exchange(std::string url) {
    traced_exchange x;
    x.method = "GET";
    x.url = std::move(url);
    x.request_id = "rid-1";
    x.request_headers = {{"x-synthetic-key", "ak-supersecret"}, {"Authorization", "Bearer eyJ.abc.def"}, {"x-tenant-name", "acme"}};
    x.status = 200;
    x.response_headers = {{"Content-Type", "application/json"}};
    x.response_body = R"({"access_token":"tok-123456","token_type":"Bearer","note":"key ak-supersecret",)"
                      R"("file":"https://store/docstore/api/v1/documents/versions/tokens/AbC%2Fx%3D/package.zip"})";
    x.response_bytes = x.response_body.size();
    return x;
}

}  // namespace

TEST_CASE("a HAR trace is a whole document after each exchange, with every secret masked") {
    auto path = std::filesystem::temp_directory_path() / ("cspark-trace-" + std::to_string(::getpid()) + ".har");
    {
        har_trace t(path);
        auto empty = read_har(path);
        CHECK(empty.at("log").at("version") == "1.2");
        CHECK(empty.at("log").at("entries").as_array().empty());
        t.record(exchange("https://h/acme/api/v4/export/1/status?sig=abc"), {"ak-supersecret"});
        CHECK(read_har(path).at("log").at("entries").as_array().size() == 1);  // readable now, before the next
        auto big = exchange("https://h/dl");
        big.response_body = std::string(70 * 1024, 'x');  // over 64 KiB: not kept
        big.response_headers = {{"Content-Type", "application/json"}};
        t.record(big, {});
        auto pkg = exchange("https://h/p.zip");
        pkg.response_headers = {{"Content-Type", "application/zip"}};
        t.record(pkg, {});
        CHECK(t.entries() == 3);
    }
    auto har = read_har(path);
    const auto& entries = har.at("log").at("entries").as_array();
    REQUIRE(entries.size() == 3);
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string text = ss.str();
    for (const char* secret : {"ak-supersecret", "eyJ.abc.def", "tok-123456", "AbC%2F", "sig=abc"}) {
        CAPTURE(secret);
        CHECK(text.find(secret) == std::string::npos);
    }
    CHECK(entries[0].at("request").at("url") == "https://h/acme/api/v4/export/1/status?sig=***");
    CHECK(entries[0].at("request").at("queryString").at(0).at("value") == "***");
    CHECK(text.find("tokens/***/package.zip") != std::string::npos);
    CHECK_FALSE(entries[1].at("response").at("content").as_object().contains("text"));
    CHECK_FALSE(entries[2].at("response").at("content").as_object().contains("text"));
    CHECK(entries[2].at("response").at("content").at("size") == entries[2].at("response").at("bodySize"));
    std::filesystem::remove(path);
}

TEST_CASE("a trace file that cannot be written is a file_error naming it") {
    try {
        har_trace t("/no-such-dir-cspark/x.har");
        FAIL("no error");
    } catch (const spark_error& e) {
        CHECK(e.code() == errc::file_error);
        CHECK(e.diag().detail.find("/no-such-dir-cspark/x.har") != std::string::npos);
    }
}
