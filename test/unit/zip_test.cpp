#include "zip/zip.hpp"

#include <doctest/doctest.h>

#include <cspark/error.hpp>

#include <cstdlib>
#include <filesystem>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <unistd.h>

using namespace cspark;

namespace {
std::filesystem::path temp(const std::string& name) {
    return std::filesystem::temp_directory_path() / ("cspark-zip-" + std::to_string(::getpid()) + "-" + name);
}
}  // namespace

TEST_CASE("a written archive reads back with the same entries and CRCs, and unzip agrees") {
    auto path = temp("roundtrip.zip");
    std::string big(300000, '\0');
    for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 7 % 13);
    {
        zip::writer w(path);
        w.add_directory("t/");
        w.add_file("t/a.json", R"({"a":1})");
        w.add_file("t/big.bin", big, true);
        w.add_file("t/stored.bin", "stored bytes", false);
        w.finish();
    }
    std::string why;
    auto r = zip::reader::open(path, why);
    REQUIRE_MESSAGE(r, why);
    REQUIRE(r->entries().size() == 4);
    CHECK(r->entries()[0].is_directory());
    auto* e = r->find("t/big.bin");
    REQUIRE(e);
    CHECK(e->method == 8);
    CHECK(e->compressed_size < e->size);
    CHECK(r->read_all(*e, 1 << 20, why) == big);
    CHECK(r->read_all(*r->find("t/stored.bin"), 100, why) == "stored bytes");
    CHECK_FALSE(r->read_all(*e, 10, why));  // over the caller's bound

    // The system's unzip sees the same entries and finds no CRC errors.
    std::string cmd = "unzip -tq '" + path.string() + "' > /dev/null 2>&1";
    CHECK(std::system(cmd.c_str()) == 0);
    std::string list = "unzip -Z1 '" + path.string() + "' > '" + path.string() + ".list'";
    REQUIRE(std::system(list.c_str()) == 0);
    std::ifstream in(path.string() + ".list");
    std::vector<std::string> names;
    for (std::string line; std::getline(in, line);) names.push_back(line);
    std::vector<std::string> ours;
    for (const auto& x : r->entries()) ours.push_back(x.name);
    CHECK(names == ours);
    // ... and the same CRC-32 for every entry (unzip -v: "... CRC-32 Name").
    std::string verbose = "unzip -v '" + path.string() + "' > '" + path.string() + ".list'";
    REQUIRE(std::system(verbose.c_str()) == 0);
    std::ifstream vin(path.string() + ".list");
    std::map<std::string, std::string> crcs;
    for (std::string line; std::getline(vin, line);) {
        std::istringstream ls(line);
        std::vector<std::string> cols;
        for (std::string w; ls >> w;) cols.push_back(w);
        if (cols.size() == 8 && cols[6].size() == 8) crcs[cols[7]] = cols[6];
    }
    for (const auto& x : r->entries()) {
        char hex[9];
        std::snprintf(hex, sizeof hex, "%08x", x.crc32);
        CHECK(crcs[x.name] == hex);
    }
    std::filesystem::remove(path.string() + ".list");
    std::filesystem::remove(path);
}

TEST_CASE("the same inputs give the same bytes") {
    auto a = temp("a.zip"), b = temp("b.zip");
    for (auto& p : {a, b}) {
        zip::writer w(p);
        w.add_file("x/y.txt", "hello");
        w.finish();
    }
    std::ifstream fa(a, std::ios::binary), fb(b, std::ios::binary);
    std::string sa((std::istreambuf_iterator<char>(fa)), {}), sb((std::istreambuf_iterator<char>(fb)), {});
    CHECK(sa == sb);
    std::filesystem::remove(a);
    std::filesystem::remove(b);
}

TEST_CASE("corrupt archives are refused with the reason") {
    auto path = temp("corrupt.zip");
    {
        zip::writer w(path);
        w.add_file("f.txt", std::string(1000, 'z'), false);
        w.finish();
    }
    {  // flip a data byte: the CRC must catch it
        std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
        f.seekp(30 + 5 + 10);
        f.put('Q');
    }
    std::string why;
    auto r = zip::reader::open(path, why);
    REQUIRE(r);
    CHECK_FALSE(r->read(r->entries()[0], [](std::span<const char>) {}, why));
    CHECK(why.find("CRC") != std::string::npos);

    std::ofstream(path, std::ios::trunc) << "this is not a zip file at all, just text";
    CHECK_FALSE(zip::reader::open(path, why));
    CHECK(why.find("not a ZIP") != std::string::npos);
    std::filesystem::remove(path);
}

TEST_CASE("a writer that is not finished leaves no file behind") {
    auto path = temp("partial.zip");
    {
        zip::writer w(path);
        w.add_file("a", "b");
    }
    CHECK_FALSE(std::filesystem::exists(path));
    CHECK_THROWS_AS(zip::writer("/nonexistent-dir/x.zip"), spark_error);
}

TEST_CASE("entry names that escape a directory are unsafe") {
    CHECK(zip::is_safe_entry_name("a/b/c.json"));
    CHECK(zip::is_safe_entry_name("a/..b/c"));
    CHECK_FALSE(zip::is_safe_entry_name("../x"));
    CHECK_FALSE(zip::is_safe_entry_name("a/../../x"));
    CHECK_FALSE(zip::is_safe_entry_name("/etc/passwd"));
    CHECK_FALSE(zip::is_safe_entry_name("C:/x"));
    CHECK_FALSE(zip::is_safe_entry_name("a\\b"));
    CHECK_FALSE(zip::is_safe_entry_name(""));
}

TEST_CASE("an archive held in memory reads as it does from its file") {
    auto path = temp("memory.zip");
    {
        zip::writer w(path);
        w.add_file("t/a.json", R"({"a":1})");
        w.add_file("t/b.bin", std::string(200000, 'b'), false);
        w.finish();
    }
    std::ifstream in(path, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), {});
    std::string why;
    auto r = zip::reader::from_bytes(bytes, why);
    REQUIRE_MESSAGE(r, why);
    REQUIRE(r->entries().size() == 2);
    CHECK(r->read_all(*r->find("t/a.json"), 100, why) == R"({"a":1})");
    CHECK(r->read_all(*r->find("t/b.bin"), 1 << 20, why) == std::string(200000, 'b'));
    // Cut short: the end record is gone.
    CHECK_FALSE(zip::reader::from_bytes(bytes.substr(0, bytes.size() - 10), why));
    CHECK(why.find("not a ZIP") != std::string::npos);
    // A data byte flipped: the CRC says so.
    std::string flipped = bytes;
    flipped[30 + 8 + 2] ^= 0x01;  // inside t/a.json's deflated data
    auto damaged = zip::reader::from_bytes(flipped, why);
    REQUIRE(damaged);
    CHECK_FALSE(damaged->read(damaged->entries()[0], [](std::span<const char>) {}, why));
    std::filesystem::remove(path);
}

TEST_CASE("find names the first entry of a name, and still does after the reader moves") {
    auto path = temp("names.zip");
    {
        zip::writer w(path);
        w.add_file("t/same.json", "first", false);
        w.add_file("t/other.json", "other", false);
        w.add_file("t/same.json", "second", false);
        w.finish();
    }
    std::string why;
    auto opened = zip::reader::open(path, why);
    REQUIRE_MESSAGE(opened, why);
    zip::reader r = std::move(*opened);
    opened.reset();
    REQUIRE(r.find("t/same.json"));
    CHECK(r.find("t/same.json") == &r.entries()[0]);
    CHECK(r.read_all(*r.find("t/same.json"), 100, why) == "first");
    CHECK(r.read_all(*r.find("t/other.json"), 100, why) == "other");
    CHECK_FALSE(r.find("t/none.json"));
    CHECK_FALSE(r.find("t/same"));
    std::filesystem::remove(path);
}
