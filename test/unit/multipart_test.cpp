#include "core/multipart.hpp"

#include <doctest/doctest.h>

using namespace cspark::detail;

namespace {
struct collected {
    std::vector<part_info> parts;
    std::vector<std::string> bodies;
    int ends = 0;
};

bool feed_in_chunks(const std::string& boundary, const std::string& body, std::size_t chunk, collected& out,
                    std::string* error = nullptr) {
    multipart_parser p(boundary, {[&](const part_info& i) {
                                      out.parts.push_back(i);
                                      out.bodies.emplace_back();
                                  },
                                  [&](std::span<const char> d) { out.bodies.back().append(d.data(), d.size()); },
                                  [&] { ++out.ends; }});
    for (std::size_t i = 0; i < body.size(); i += chunk)
        if (!p.feed(std::span<const char>(body.data() + i, std::min(chunk, body.size() - i)))) {
            if (error) *error = p.error();
            return false;
        }
    return p.finished();
}

std::string sample(const std::string& b, const std::string& file) {
    return multipart_part_head(b, "importRequestEntity", "", "", true) + R"({"a":1})" +
           multipart_part_head(b, "file", "package.zip", "application/zip", false) + file + multipart_tail(b);
}
}  // namespace

TEST_CASE("framing and parsing agree for every chunk split") {
    std::mt19937_64 rng(7);
    auto b = make_boundary(rng);
    std::string file;
    for (int i = 0; i < 3000; ++i) file += static_cast<char>(i % 256);
    file += "\r\n--" + b.substr(0, 10);  // a near-delimiter inside the data
    auto body = sample(b, file);
    for (std::size_t chunk : {1ul, 2ul, 3ul, 7ul, 64ul, 1000ul, body.size()}) {
        CAPTURE(chunk);
        collected c;
        REQUIRE(feed_in_chunks(b, body, chunk, c));
        REQUIRE(c.parts.size() == 2);
        CHECK(c.parts[0].name == "importRequestEntity");
        CHECK(c.parts[1].name == "file");
        CHECK(c.parts[1].filename == "package.zip");
        CHECK(c.parts[1].content_type == "application/zip");
        CHECK(c.bodies[0] == R"({"a":1})");
        CHECK(c.bodies[1] == file);
        CHECK(c.ends == 2);
    }
}

TEST_CASE("boundary from Content-Type") {
    CHECK(multipart_boundary("multipart/form-data; boundary=abc") == "abc");
    CHECK(multipart_boundary("Multipart/Form-Data; charset=utf-8; boundary=\"q r\"") == "q r");
    CHECK_FALSE(multipart_boundary("application/json"));
    CHECK_FALSE(multipart_boundary("multipart/form-data"));
}

TEST_CASE("malformed multipart bodies are named, truncated ones are not finished") {
    std::string b = "BOUND";
    collected c;
    std::string error;
    CHECK_FALSE(feed_in_chunks(b, "--BOUND\r\nX-No-Colon\r\n\r\ndata\r\n--BOUND--\r\n", 5, c, &error));
    CHECK(error.find("':'") != std::string::npos);
    collected d;
    CHECK_FALSE(feed_in_chunks(b, "--BOUND\r\nContent-Type: text/plain\r\n\r\ndata\r\n--BOUND--", 4, d, &error));
    CHECK(error.find("Content-Disposition") != std::string::npos);
    collected e;
    auto body = sample(b, "abc");
    CHECK_FALSE(feed_in_chunks(b, body.substr(0, body.size() - 12), 3, e));  // truncated: not finished
    collected f;
    CHECK_FALSE(feed_in_chunks(b, std::string(20000, 'x'), 1000, f, &error));
    CHECK(error.find("no multipart boundary") != std::string::npos);
}
