// The emulator's packages: deterministic payloads, writing and reading export ZIPs.
#include "emulator/model.hpp"
#include "emulator/model_util.hpp"

#include "core/hash.hpp"
#include "core/text.hpp"
#include "zip/zip.hpp"

#include <cspark/body.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <zlib.h>

#include <algorithm>
#include <deque>
#include <memory>
#include <mutex>
#include <set>

namespace cspark::emu {
namespace json = boost::json;

using namespace util;

namespace {

class payload_source final : public body_source {
public:
    payload_source(std::uint64_t seed, std::uint64_t size) : seed_(seed), size_(size) {}
    std::uint64_t size() const override { return size_; }
    std::size_t read(std::span<char> buf, error_code&) override {
        std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), size_ - pos_));
        for (std::size_t i = 0; i < n; ++i) {
            std::uint64_t at = pos_ + i;
            if (at % 8 == 0) word_ = mix(seed_ + at / 8);
            buf[i] = static_cast<char>(word_ >> (8 * (at % 8)));
        }
        pos_ += n;
        return n;
    }
    void rewind(error_code&) override { pos_ = 0; }

private:
    static std::uint64_t mix(std::uint64_t z) {
        z += 0x9e3779b97f4a7c15ull;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
    }
    std::uint64_t seed_, size_, pos_ = 0, word_ = 0;
};

std::uint64_t seed_of(const std::string& text) {
    auto h = detail::sha256_hex(text);
    return std::stoull(h.substr(0, 16), nullptr, 16);
}

// Payloads depend on (service, version, size) only, so a fleet of tenants
// with the same services shares them: generated and CRC'd once, kept in a
// small cache (at most 256 MiB, oldest dropped first).
struct cached_payload {
    std::string data;
    std::uint32_t crc = 0;
};

std::shared_ptr<const cached_payload> payload(const std::string& key, std::uint64_t size) {
    static std::mutex mu;
    static std::map<std::string, std::shared_ptr<const cached_payload>> cache;
    static std::deque<std::string> order;
    static std::uint64_t total = 0;
    constexpr std::uint64_t budget = 256ull * 1024 * 1024;
    std::string id = key + "|" + std::to_string(size);
    {
        std::lock_guard lock(mu);
        if (auto it = cache.find(id); it != cache.end()) return it->second;
    }
    auto p = std::make_shared<cached_payload>();
    payload_source src(seed_of(id), size);
    p->data.resize(static_cast<std::size_t>(size));
    error_code ec;
    src.read(std::span<char>(p->data.data(), p->data.size()), ec);
    p->crc = static_cast<std::uint32_t>(crc32_z(crc32(0, nullptr, 0), reinterpret_cast<const Bytef*>(p->data.data()), p->data.size()));
    if (size > budget) return p;  // too big to keep
    std::lock_guard lock(mu);
    while (total + size > budget && !order.empty()) {
        total -= cache[order.front()]->data.size();
        cache.erase(order.front());
        order.pop_front();
    }
    cache[id] = p;
    order.push_back(id);
    total += size;
    return p;
}

// Metadata files of a few hundred bytes are stored: deflating each one (a
// fresh block, its Huffman tables, the window reset) was a third of an
// export POST's CPU, for a few dozen bytes saved apiece.
void add_metadata(zip::writer& w, std::string name, std::string_view text) { w.add_file(std::move(name), text, text.size() >= 1024); }

// One service version's entries: its directories (each once), metadata,
// the compiled bundle and, for "migrate", the workbook.
void write_version(zip::writer& w, const std::string& tenant_name, const selected_version& v, const std::string& file_filter,
                   std::uint64_t payload_bytes, std::set<std::string>& dirs) {
    std::string base = tenant_name + "/" + v.folder + "/" + v.service + "/" + v.version + "/";
    for (auto dir : {tenant_name + "/" + v.folder + "/", tenant_name + "/" + v.folder + "/" + v.service + "/", base})
        if (dirs.insert(dir).second) w.add_directory(dir);
    add_metadata(w, base + "WASMMetaData.json", json::serialize(json::object{{"Revision", v.version}}));
    add_metadata(w, base + "ModelMetaData.json",
               json::serialize(json::object{
                   {"VersionId", v.version_id},
                   {"EngineInformation", json::object{{"ServiceVersionGuid", v.version_id},
                                                      {"Tenant", tenant_name},
                                                      {"ProductName", v.folder},
                                                      {"ServiceName", v.service},
                                                      {"CompilerVersion", "cspark-emulator"}}}}));
    add_metadata(w, base + "DefaultValidations.json",
               R"({"outputs":{},"warnings":[],"errors":[],"service_chain":[]})");
    // The bundle is stored (it is compressed already). Large ones are
    // generated while written, small ones come from the cache.
    std::string key = v.service + "[" + v.version + "]";
    if (payload_bytes > 16 * 1024 * 1024) {
        payload_source big(seed_of(key + "|" + std::to_string(payload_bytes)), payload_bytes);
        w.add_file(base + v.version_id + ".zip", big, false);
    } else {
        auto wasm = payload(key, payload_bytes);
        w.add_stored(base + v.version_id + ".zip", wasm->data, wasm->crc);
    }
    if (file_filter == "migrate") {
        auto workbook = payload("xlsx|" + v.service + "[" + v.version + "]", 4096);
        w.add_stored(base + v.service + ".xlsx", workbook->data, workbook->crc);
        add_metadata(w, base + "ServiceMetaData.json",
                   json::serialize(json::object{{"service_id", v.service_id},
                                                {"version_id", v.version_id},
                                                {"folder", v.folder},
                                                {"service", v.service},
                                                {"version", v.version}}));
    }
}

}  // namespace

// ---------------------------------------------------------------- packages

package_result write_package(const std::filesystem::path& path, const std::string& tenant_name,
                             const std::vector<selected_version>& versions, const std::string& file_filter,
                             std::uint64_t payload_bytes) {
    package_result r;
    json::array services, service_versions;
    std::set<std::string> service_seen;
    std::string id_text = tenant_name + "|" + file_filter;
    for (const auto& v : versions) {
        id_text += "|" + v.version_id;
        if (service_seen.insert(v.service_id).second)
            services.push_back(json::object{{"service_uri_source", v.folder + "/" + v.service},
                                            {"folder_source", v.folder},
                                            {"service_source", v.service},
                                            {"service_id_source", v.service_id}});
        service_versions.push_back(json::object{{"service_uri_source", v.folder + "/" + v.service + "[" + v.version + "]"},
                                                {"folder_source", v.folder},
                                                {"service_source", v.service},
                                                {"version_source", v.version},
                                                {"service_id_source", v.service_id},
                                                {"version_id_source", v.version_id}});
    }
    json::object manifest{{"object", "export"},
                          {"id", stable_uuid(id_text)},
                          {"file_filter", file_filter},
                          {"source_tenant", tenant_name},
                          {"outputs", json::object{{"files", nullptr},
                                                   {"services", services},
                                                   {"service_versions", service_versions}}}};

    zip::writer w(path);
    w.add_directory(tenant_name + "/");
    add_metadata(w, tenant_name + "/manifest.json", json::serialize(manifest));
    std::set<std::string> dirs;
    for (const auto& v : versions) write_version(w, tenant_name, v, file_filter, payload_bytes, dirs);
    r.size = w.finish();
    r.sha256 = w.sha256();
    r.services = std::move(services);
    r.service_versions = std::move(service_versions);
    return r;
}

namespace {

std::optional<package_contents> verify_package(std::optional<zip::reader> r, const std::string& unreadable, api_error& err) {
    auto bad = [&](const std::string& why) -> std::optional<package_contents> {
        err = make_error(500, "INVALID_IMPORT_ZIP", "the uploaded file is not a valid ImpEx package: " + why);
        return std::nullopt;
    };
    if (!r) return bad(unreadable);
    std::string why;
    const zip::entry_info* manifest = nullptr;
    for (const auto& e : r->entries()) {
        if (!zip::is_safe_entry_name(e.name) || e.is_symlink()) return bad("unsafe entry name '" + detail::excerpt(e.name, 200) + "'");
        auto slash = e.name.find('/');
        if (slash != std::string::npos && e.name.substr(slash + 1) == "manifest.json") manifest = &e;
    }
    if (!manifest) return bad("no {tenant}/manifest.json entry");
    // Every entry must decompress to its declared size and CRC.
    for (const auto& e : r->entries())
        if (!e.is_directory() && !r->read(e, [](std::span<const char>) {}, why)) return bad(why);
    auto text = r->read_all(*manifest, 16 * 1024 * 1024, why);
    if (!text) return bad(why);
    error_code json_ec;
    json::value m = json::parse(*text, json_ec);
    if (json_ec || !m.is_object()) return bad("manifest.json is not a JSON object");
    const auto& mo = m.get_object();
    package_contents pkg;
    pkg.source_tenant = manifest->name.substr(0, manifest->name.find('/'));
    pkg.file_filter = str(mo, "file_filter");
    const json::value* outputs = mo.if_contains("outputs");
    const json::value* sv = outputs && outputs->is_object() ? outputs->get_object().if_contains("service_versions") : nullptr;
    if (!sv || !sv->is_array() || sv->get_array().empty()) return bad("manifest lists no service_versions");
    for (const auto& item : sv->get_array()) {
        if (!item.is_object()) return bad("manifest service_versions entry is not an object");
        const auto& o = item.get_object();
        package_version v{str(o, "folder_source"), str(o, "service_source"), str(o, "service_id_source"),
                          str(o, "version_source"), str(o, "version_id_source")};
        if (v.folder.empty() || v.service.empty() || v.version.empty() || v.version_id.empty())
            return bad("manifest service_versions entry lacks folder/service/version/version_id");
        std::string base = pkg.source_tenant + "/" + v.folder + "/" + v.service + "/" + v.version + "/";
        if (!r->find(base + v.version_id + ".zip")) return bad("missing " + base + v.version_id + ".zip");
        if (pkg.file_filter != "migrate" || !r->find(base + v.service + ".xlsx")) {
            err = make_error(500, "INVALID_IMPORT_ZIP",
                             "the package was not exported with file_filter=migrate (found '" +
                                 (pkg.file_filter.empty() ? std::string("unknown") : pkg.file_filter) +
                                 "'): only migrate packages can be imported");
            return std::nullopt;
        }
        pkg.versions.push_back(std::move(v));
    }
    return pkg;
}

}  // namespace

std::optional<package_contents> read_package(const std::filesystem::path& path, api_error& err) {
    std::string why;
    auto r = zip::reader::open(path, why);
    return verify_package(std::move(r), why, err);
}

std::optional<package_contents> read_package_bytes(std::string bytes, api_error& err) {
    std::string why;
    auto r = zip::reader::from_bytes(std::move(bytes), why);
    return verify_package(std::move(r), why, err);
}

}  // namespace cspark::emu
