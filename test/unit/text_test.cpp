#include "core/text.hpp"

#include <doctest/doctest.h>

#include <set>

using namespace cspark::detail;

TEST_CASE("URL query values are masked; the rest stays readable") {
    CHECK(mask_url("http://h/t/file.zip?token=abc&x=1") == "http://h/t/file.zip?token=***&x=***");
    CHECK(mask_url("http://h/t/p") == "http://h/t/p");
    CHECK(mask_url("http://h/?flag") == "http://h/?flag");
    // Found by the uri fuzzer: empty pairs were dropped one per pass.
    CHECK(mask_url("http://h/?a=1&&b=2&&") == "http://h/?a=***&&b=***&&");
    CHECK(mask_url(mask_url("http://h/?&&")) == mask_url("http://h/?&&"));
}

TEST_CASE("links and bearer tokens in free text are masked") {
    CHECK(mask_links("GET https://s3/x.zip?X-Amz-Signature=abc123&e=1 failed (link https://h/dl?t=zz)") ==
          "GET https://s3/x.zip?X-Amz-Signature=***&e=*** failed (link https://h/dl?t=***)");
    CHECK(mask_links("Authorization: Bearer eyJhbGciOi.xyz sent") == "Authorization: Bearer *** sent");
    CHECK(mask_links("httpd says http:/ no link; plain http") == "httpd says http:/ no link; plain http");
    CHECK(mask_links("") == "");
    CHECK(mask_links("\"http://h/p?k=v\"") == "\"http://h/p?k=***\"");
}

TEST_CASE("known secrets are masked in text") {
    std::vector<std::string> secrets{"supersecret", "", "ab"};
    CHECK(mask_secrets("key=supersecret and supersecret", secrets) == "key=*** and ***");
    CHECK(mask_secrets("ab stays", secrets) == "ab stays");  // too short to mask safely
}

TEST_CASE("UUIDv4 ids are well formed and distinct") {
    std::mt19937_64 rng(42);
    std::set<std::string> ids;
    for (int i = 0; i < 1000; ++i) {
        auto id = uuid4(rng);
        REQUIRE(is_uuid(id));
        CHECK(id[14] == '4');
        CHECK(std::string("89ab").find(id[19]) != std::string::npos);
        ids.insert(id);
    }
    CHECK(ids.size() == 1000);
    CHECK_FALSE(is_uuid("not-a-uuid"));
}

TEST_CASE("excerpts are bounded and printable") {
    std::string big(5000, 'x');
    CHECK(excerpt(big, 100).size() == 103);
    CHECK(excerpt(std::string("a\x01" "b"), 10) == "a?b");
}

TEST_CASE("url_encode encodes form values") {
    CHECK(url_encode("a b&c=d/é") == "a%20b%26c%3Dd%2F%C3%A9");
}
