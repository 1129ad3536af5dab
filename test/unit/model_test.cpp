#include "emulator/model.hpp"

#include <doctest/doctest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

using namespace cspark::emu;
namespace json = boost::json;

namespace {
tenant sample() {
    tenant t;
    t.name = "acme";
    folder f{"pricing", {}};
    f.services["motor"] = service{"svc-motor", "motor", {{"v1", "1.0.0"}, {"v2", "3.2.0"}, {"v3", "3.2.5"}, {"v4", "3.20.0"}}};
    f.services["home"] = service{"svc-home", "home", {{"h1", "0.1.0"}}};
    t.folders["pricing"] = std::move(f);
    t.folders["empty"] = folder{"empty", {}};
    return t;
}
std::vector<std::string> ids(const std::vector<selected_version>& v) {
    std::vector<std::string> out;
    for (const auto& x : v) out.push_back(x.version_id);
    return out;
}
}  // namespace

TEST_CASE("semantic versions: parse, order, prefix selectors, bumps") {
    CHECK(parse_semver("1.2.3"));
    CHECK_FALSE(parse_semver("1.2"));
    CHECK_FALSE(parse_semver("1.2.3-beta"));
    CHECK(semver_less("3.2.5", "3.20.0"));
    CHECK(version_matches("3.2", "3.2.5"));
    CHECK_FALSE(version_matches("3.2", "3.20.0"));
    CHECK(version_matches("", "9.9.9"));
    CHECK(bump("1.4.2", "major") == "2.0.0");
    CHECK(bump("1.4.2", "minor") == "1.5.0");
    CHECK(bump("1.4.2", "patch") == "1.4.3");
}

TEST_CASE("export selection: folders, services with [version] prefix, ids, union, filters") {
    auto t = sample();
    api_error err;
    auto latest = select_versions(t, json::parse(R"({"services":["pricing/motor"]})"), "latest", err);
    REQUIRE(latest);
    CHECK(ids(*latest) == std::vector<std::string>{"v4"});
    auto prefix = select_versions(t, json::parse(R"({"services":["pricing/motor[3.2]"]})"), "all", err);
    REQUIRE(prefix);
    CHECK(ids(*prefix) == std::vector<std::string>{"v3"});  // latest of 3.2.x, not 3.20
    auto all = select_versions(t, json::parse(R"({"folders":["pricing"],"version_ids":["v1"]})"), "all", err);
    REQUIRE(all);
    CHECK(all->size() == 5);  // union without duplicates
    auto by_id = select_versions(t, json::parse(R"({"services":["svc-home"]})"), "latest", err);
    REQUIRE(by_id);
    CHECK(ids(*by_id) == std::vector<std::string>{"h1"});
}

TEST_CASE("export selection errors name what is missing") {
    auto t = sample();
    api_error err;
    CHECK_FALSE(select_versions(t, json::parse("{}"), "latest", err));
    CHECK(err.status == 400);
    CHECK_FALSE(select_versions(t, json::parse(R"({"services":["pricing/nope"]})"), "latest", err));
    CHECK(err.code == "SERVICE_NOT_FOUND");
    CHECK(err.message.find("pricing/nope") != std::string::npos);
    CHECK_FALSE(select_versions(t, json::parse(R"({"services":["pricing/motor[9]"]})"), "latest", err));
    CHECK(err.code == "VERSION_NOT_FOUND");
    CHECK_FALSE(select_versions(t, json::parse(R"({"folders":["empty"]})"), "latest", err));
    CHECK(err.code == "FOLDER_EMPTY");
    CHECK_FALSE(select_versions(t, json::parse(R"({"folders":["ghost"]})"), "latest", err));
    CHECK(err.code == "FOLDER_NOT_FOUND");
    CHECK_FALSE(select_versions(t, json::parse(R"({"version_ids":["zzz"]})"), "latest", err));
    CHECK(err.code == "VERSION_NOT_FOUND");
}

TEST_CASE("the import action table") {
    package_contents pkg;
    pkg.file_filter = "migrate";
    pkg.versions = {{"pricing", "motor", "svc-motor", "1.0.0", "v1"}, {"pricing", "motor", "svc-motor", "1.1.0", "v2"}};
    auto entity = [](const std::string& action, const std::string& dest) {
        return json::parse(R"({"inputs":{"services_modify":[{"service_uri_source":"pricing/motor","service_uri_destination":")" +
                           dest + R"(","update_version_type":"major"}]},"services_existing":")" + action + R"("})");
    };
    tenant target;
    target.name = "prod";
    target.folders["live"] = folder{"live", {}};
    std::string action;
    api_error err;

    SUBCASE("new service: created with all versions; ids kept when free") {
        auto m = parse_import_entity(entity("abort", "live/motor"), pkg, action, err);
        REQUIRE(m);
        auto r = apply_import(target, pkg, *m, action);
        CHECK(r.errors.is_null());
        auto& s = target.folders["live"].services.at("motor");
        REQUIRE(s.versions.size() == 2);
        CHECK(s.versions[0].id == "v1");
        CHECK(r.services.as_array()[0].as_object().at("status") == "added");
        SUBCASE("exists + abort: fails, tenant unchanged") {
            auto again = apply_import(target, pkg, *m, action);
            CHECK_FALSE(again.errors.is_null());
            CHECK(json::serialize(again.errors).find("SERVICE_EXISTS") != std::string::npos);
            CHECK(target.folders["live"].services.at("motor").versions.size() == 2);
        }
        SUBCASE("exists + replace") {
            auto m2 = parse_import_entity(entity("replace", "live/motor"), pkg, action, err);
            auto r2 = apply_import(target, pkg, *m2, action);
            CHECK(r2.errors.is_null());
            CHECK(target.folders["live"].services.at("motor").versions.size() == 2);
            CHECK(r2.services.as_array()[0].as_object().at("status") == "replaced");
        }
        SUBCASE("exists + add_version: appended with major bumps and fresh ids") {
            auto m2 = parse_import_entity(entity("add_version", "live/motor"), pkg, action, err);
            auto r2 = apply_import(target, pkg, *m2, action);
            CHECK(r2.errors.is_null());
            auto& v = target.folders["live"].services.at("motor").versions;
            REQUIRE(v.size() == 4);
            CHECK(v[2].semver == "2.0.0");
            CHECK(v[3].semver == "3.0.0");
            CHECK(v[2].id != "v1");
        }
    }
    SUBCASE("missing destination folder: an error naming it") {
        auto m = parse_import_entity(entity("abort", "ghost/motor"), pkg, action, err);
        REQUIRE(m);
        auto r = apply_import(target, pkg, *m, action);
        CHECK(json::serialize(r.errors).find("ghost") != std::string::npos);
        CHECK(target.folders.count("ghost") == 0);
    }
    SUBCASE("a version in service_uri_source imports only the version it selects") {
        auto one = json::parse(R"({"inputs":{"services_modify":[{"service_uri_source":"pricing/motor[1.0.0]",
            "service_uri_destination":"live/motor"}]}})");
        auto m = parse_import_entity(one, pkg, action, err);
        REQUIRE(m);
        auto r = apply_import(target, pkg, *m, action);
        CHECK(r.errors.is_null());
        auto& v = target.folders["live"].services.at("motor").versions;
        REQUIRE(v.size() == 1);
        CHECK(v[0].semver == "1.0.0");
        CHECK(r.service_versions.as_array().size() == 1);
        // A prefix selects like export's services input: the latest it matches.
        auto prefix = json::parse(R"({"inputs":{"services_modify":[{"service_uri_source":"pricing/motor[1]",
            "service_uri_destination":"live/motor2"}]}})");
        auto m2 = parse_import_entity(prefix, pkg, action, err);
        REQUIRE(m2);
        CHECK(apply_import(target, pkg, *m2, action).errors.is_null());
        REQUIRE(target.folders["live"].services.at("motor2").versions.size() == 1);
        CHECK(target.folders["live"].services.at("motor2").versions[0].semver == "1.1.0");
        auto absent = json::parse(R"({"inputs":{"services_modify":[{"service_uri_source":"pricing/motor[2.0]"}]}})");
        CHECK_FALSE(parse_import_entity(absent, pkg, action, err));
        CHECK(err.status == 404);
        CHECK(err.message.find("2.0") != std::string::npos);
        CHECK(err.message.find("1.0.0, 1.1.0") != std::string::npos);
    }
    SUBCASE("two mappings aimed at one destination: refused up front, naming it") {
        auto dup = json::parse(R"({"inputs":{"services_modify":[
            {"service_uri_source":"pricing/motor","service_uri_destination":"live/motor"},
            {"service_uri_source":"pricing/motor[1.0]","service_uri_destination":"live/motor"}]},
            "services_existing":"abort"})");
        CHECK_FALSE(parse_import_entity(dup, pkg, action, err));
        CHECK(err.status == 400);
        CHECK(err.code == "DUPLICATE_DESTINATION");
        CHECK(err.message.find("live/motor") != std::string::npos);
        CHECK(target.folders["live"].services.empty());
    }
    SUBCASE("entity errors") {
        CHECK_FALSE(parse_import_entity(entity("update", "live/motor"), pkg, action, err));
        CHECK(err.message.find("update") != std::string::npos);
        auto missing = json::parse(R"({"inputs":{"services_modify":[{"service_uri_source":"pricing/home"}]}})");
        CHECK_FALSE(parse_import_entity(missing, pkg, action, err));
        CHECK(err.status == 404);
        CHECK(err.code == "SERVICE_NOT_FOUND");
        CHECK_FALSE(parse_import_entity(json::parse(R"({"inputs":{}})"), pkg, action, err));
        CHECK(err.status == 400);
    }
}
