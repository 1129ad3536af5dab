// cspark::emulator: the public class over the emulator's state (impl.hpp).
#include "emulator/impl.hpp"
#include "server/certs.hpp"

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace cspark {
namespace asio = boost::asio;
namespace json = boost::json;

// ------------------------------------------------------------------ emulator

namespace {

std::string derived_secret(std::uint64_t seed, const std::string& what) {
    return emu::stable_uuid(std::to_string(seed) + "|" + what).substr(0, 8) +
           emu::stable_uuid(what + "|" + std::to_string(seed)).substr(24);
}

emu::tenant make_tenant(const std::string& name, std::uint64_t seed) {
    emu::tenant t;
    t.name = name;
    t.api_key = "ak-" + derived_secret(seed, "api|" + name);
    t.bearer_token = "bt-" + derived_secret(seed, "bearer|" + name);
    t.client_id = name + "-client";
    t.client_secret = "cs-" + derived_secret(seed, "oauth|" + name);
    return t;
}

[[noreturn]] void seed_error(const std::string& where, const std::string& what) {
    diagnostics d;
    d.detail = "seed: " + where + ": " + what;
    throw spark_error(errc::invalid_argument, std::move(d));
}

std::string seed_string(const json::object& o, std::string_view key, const std::string& where, bool required) {
    auto* p = o.if_contains(key);
    if (!p) {
        if (required) seed_error(where, "'" + std::string(key) + "' is required");
        return {};
    }
    if (!p->is_string() || p->get_string().empty()) seed_error(where, "'" + std::string(key) + "' must be a non-empty string");
    return std::string(p->get_string());
}

const json::array& seed_array(const json::object& o, std::string_view key, const std::string& where) {
    static const json::array empty;
    auto* p = o.if_contains(key);
    if (!p) return empty;
    if (!p->is_array()) seed_error(where, "'" + std::string(key) + "' must be an array");
    return p->get_array();
}

}  // namespace

emulator::emulator(asio::any_io_executor ex, emulator_config cfg) : impl_(std::make_shared<impl>()) {
    auto& s = *impl_;
    s.ex = ex;
    s.cfg = std::move(cfg);
    s.clock = s.cfg.clock ? s.cfg.clock : system_timer_service();
    s.epoch = s.clock->now();
    s.uploads_in_memory->limit = s.cfg.upload_memory_bytes;
    if (s.cfg.data_dir.empty()) {
        std::string tmpl = (std::filesystem::temp_directory_path() / "cspark-emulator-XXXXXX").string();
        if (!::mkdtemp(tmpl.data())) {
            diagnostics d;
            d.detail = "cannot create a temporary data directory";
            throw spark_error(errc::file_error, d);
        }
        s.data_dir = tmpl;
        s.own_data_dir = true;
    } else {
        s.data_dir = s.cfg.data_dir;
    }
    std::error_code fs_ec;
    std::filesystem::create_directories(s.data_dir / "uploads", fs_ec);
    std::filesystem::create_directories(s.data_dir / "exports", fs_ec);
    if (fs_ec) {
        diagnostics d;
        d.detail = "cannot create data directory '" + s.data_dir.string() + "': " + fs_ec.message();
        throw spark_error(errc::file_error, d);
    }
    if (s.cfg.request_log == "-") {
        s.log = stderr;
    } else if (!s.cfg.request_log.empty()) {
        s.log = std::fopen(s.cfg.request_log.c_str(), "a");
        if (!s.log) {
            diagnostics d;
            d.detail = "cannot open request log '" + s.cfg.request_log + "'";
            throw spark_error(errc::file_error, d);
        }
    }
}

emulator::~emulator() {
    stop();
    // The server holds the handler (impl) and impl holds the server: break the
    // cycle so impl goes when the last connection coroutine does.
    impl_->srv.reset();
    impl_->store.reset();
}

void emulator::load_seed(const json::value& seed) {
    std::lock_guard lock(impl_->mu);
    if (!seed.is_object()) seed_error("document", "expected an object with 'tenants'");
    const auto& tenants = seed_array(seed.get_object(), "tenants", "document");
    std::uint64_t random_seed = 1;
    if (auto* rs = seed.get_object().if_contains("random_seed"); rs && rs->is_number())
        random_seed = rs->to_number<std::uint64_t>();
    for (std::size_t i = 0; i < tenants.size(); ++i) {
        std::string tw = "tenants[" + std::to_string(i) + "]";
        if (!tenants[i].is_object()) seed_error(tw, "must be an object");
        const auto& to = tenants[i].get_object();
        auto t = make_tenant(seed_string(to, "name", tw, true), random_seed);
        for (auto [key, field] : {std::pair{"api_key", &t.api_key}, std::pair{"bearer_token", &t.bearer_token},
                                  std::pair{"client_id", &t.client_id}, std::pair{"client_secret", &t.client_secret}})
            if (to.contains(key)) *field = seed_string(to, key, tw, false);
        const auto& folders = seed_array(to, "folders", tw);
        for (std::size_t fi = 0; fi < folders.size(); ++fi) {
            std::string fw = tw + ".folders[" + std::to_string(fi) + "]";
            if (!folders[fi].is_object()) seed_error(fw, "must be an object");
            emu::folder f;
            f.name = seed_string(folders[fi].get_object(), "name", fw, true);
            const auto& services = seed_array(folders[fi].get_object(), "services", fw);
            for (std::size_t si = 0; si < services.size(); ++si) {
                std::string sw = fw + ".services[" + std::to_string(si) + "]";
                if (!services[si].is_object()) seed_error(sw, "must be an object");
                const auto& so = services[si].get_object();
                emu::service sv;
                sv.name = seed_string(so, "name", sw, true);
                sv.id = so.contains("id") ? seed_string(so, "id", sw, false)
                                          : emu::stable_uuid(t.name + "/" + f.name + "/" + sv.name);
                const auto& versions = seed_array(so, "versions", sw);
                for (std::size_t vi = 0; vi < versions.size(); ++vi) {
                    std::string vw = sw + ".versions[" + std::to_string(vi) + "]";
                    emu::version v;
                    if (versions[vi].is_string()) {
                        v.semver = std::string(versions[vi].get_string());
                    } else if (versions[vi].is_object()) {
                        v.semver = seed_string(versions[vi].get_object(), "version", vw, true);
                        if (versions[vi].get_object().contains("id"))
                            v.id = seed_string(versions[vi].get_object(), "id", vw, false);
                    } else {
                        seed_error(vw, "must be a version string or {version, id}");
                    }
                    if (!emu::parse_semver(v.semver)) seed_error(vw, "'" + v.semver + "' is not MAJOR.MINOR.PATCH");
                    if (v.id.empty()) v.id = emu::stable_uuid(sv.id + "[" + v.semver + "]");
                    sv.versions.push_back(std::move(v));
                }
                f.services[sv.name] = std::move(sv);
            }
            t.folders[f.name] = std::move(f);
        }
        impl_->tenants[t.name] = std::move(t);
    }
}

void emulator::load_seed_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) seed_error(path.string(), "cannot be read");
    std::stringstream ss;
    ss << in.rdbuf();
    error_code json_ec;
    json::value v = json::parse(ss.str(), json_ec);
    if (json_ec) seed_error(path.string(), "is not JSON (" + json_ec.message() + ")");
    load_seed(v);
}

void emulator::generate(const fleet_spec& spec) {
    std::lock_guard lock(impl_->mu);
    auto name = [](const std::string& prefix, std::size_t i, std::size_t n) {
        std::string num = std::to_string(i + 1);
        std::size_t width = std::max<std::size_t>(4, std::to_string(n).size());
        return prefix + std::string(width - std::min(width, num.size()), '0') + num;
    };
    for (std::size_t ti = 0; ti < spec.tenants + spec.target_tenants; ++ti) {
        bool target = ti >= spec.tenants;
        auto tname = target ? name(spec.target_prefix, ti - spec.tenants, spec.target_tenants)
                            : name(spec.tenant_prefix, ti, spec.tenants);
        auto t = make_tenant(tname, spec.random_seed);
        for (std::size_t fi = 0; fi < spec.folders; ++fi) {
            emu::folder f;
            f.name = "folder-" + std::to_string(fi + 1);
            for (std::size_t si = 0; !target && si < spec.services; ++si) {
                emu::service sv;
                sv.name = "service-" + std::to_string(si + 1);
                sv.id = emu::stable_uuid(std::to_string(spec.random_seed) + "|" + tname + "/" + f.name + "/" + sv.name);
                for (std::size_t vi = 0; vi < spec.versions; ++vi) {
                    emu::version v;
                    v.semver = "1." + std::to_string(vi) + ".0";
                    v.id = emu::stable_uuid(sv.id + "[" + v.semver + "]");
                    sv.versions.push_back(std::move(v));
                }
                f.services[sv.name] = std::move(sv);
            }
            t.folders[f.name] = std::move(f);
        }
        impl_->tenants[tname] = std::move(t);
    }
}

void emulator::start() {
    auto& s = *impl_;
    server::server_config sc;
    sc.address = s.cfg.address;
    sc.port = s.cfg.port;
    sc.drain_limit = s.cfg.max_upload_bytes * 2 + 16 * 1024 * 1024;
    if (s.cfg.tls) {
        if (!s.cfg.tls_cert_file.empty()) {
            auto read = [](const std::string& p) {
                std::ifstream in(p, std::ios::binary);
                if (!in) {
                    diagnostics d;
                    d.detail = "cannot read '" + p + "'";
                    throw spark_error(errc::file_error, d);
                }
                std::stringstream ss;
                ss << in.rdbuf();
                return ss.str();
            };
            sc.tls_cert_pem = read(s.cfg.tls_cert_file);
            sc.tls_key_pem = read(s.cfg.tls_key_file.empty() ? s.cfg.tls_cert_file : s.cfg.tls_key_file);
        } else {
            auto pems = server::make_self_signed({"localhost", "*.emu.coherent.global"}, {"127.0.0.1", "::1"});
            sc.tls_cert_pem = pems.cert_pem;
            sc.tls_key_pem = pems.key_pem;
        }
        s.cert_pem = sc.tls_cert_pem;
        if (!s.cfg.write_cert_to.empty()) {
            std::ofstream out(s.cfg.write_cert_to, std::ios::binary | std::ios::trunc);
            out << s.cert_pem;
            if (!out) {
                diagnostics d;
                d.detail = "cannot write the certificate to '" + s.cfg.write_cert_to + "'";
                throw spark_error(errc::file_error, d);
            }
        }
    }
    if (s.cfg.links == emulator_config::link_host::store) {
        // The document store: its own origin, the same handler (its paths
        // never meet the API's), the same certificate.
        auto store_cfg = sc;
        store_cfg.port = s.cfg.store_port;
        s.store = std::make_unique<server::http_server>(s.ex, store_cfg, impl_);
        s.store->start();
    }
    s.srv = std::make_unique<server::http_server>(s.ex, sc, impl_);
    s.srv->start();
}

void emulator::stop() {
    if (impl_->srv) impl_->srv->stop();
    if (impl_->store) impl_->store->stop();
}

void apply_profile_uat(emulator_config& cfg) {
    cfg.export_job_duration = std::chrono::milliseconds(4000);
    cfg.import_job_duration = std::chrono::milliseconds(9000);
    cfg.job_jitter = 0.25;
    cfg.links = emulator_config::link_host::store;
    cfg.download_ttl = std::chrono::minutes(5);
}

std::uint16_t emulator::port() const { return impl_->srv ? impl_->srv->port() : 0; }
std::uint16_t emulator::store_port() const { return impl_->store ? impl_->store->port() : 0; }
std::string emulator::url() const { return impl_->srv ? impl_->srv->url() : std::string(); }
std::string emulator::base_url(const std::string& tenant) const { return url() + "/" + tenant; }
std::string emulator::certificate_pem() const { return impl_->cert_pem; }

std::vector<tenant_credentials> emulator::credentials() const {
    std::lock_guard lock(impl_->mu);
    std::vector<tenant_credentials> out;
    for (const auto& [name, t] : impl_->tenants)
        out.push_back({name, t.api_key, t.bearer_token, t.client_id, t.client_secret});
    return out;
}

tenant_credentials emulator::credentials(const std::string& tenant) const {
    std::lock_guard lock(impl_->mu);
    auto it = impl_->tenants.find(tenant);
    if (it == impl_->tenants.end()) {
        diagnostics d;
        d.detail = "no tenant '" + tenant + "' in the emulator";
        throw spark_error(errc::invalid_argument, d);
    }
    const auto& t = it->second;
    return {tenant, t.api_key, t.bearer_token, t.client_id, t.client_secret};
}

void emulator::set_faults(const json::value& doc) {
    std::lock_guard lock(impl_->mu);
    try {
        impl_->faults.load(doc);
    } catch (const std::invalid_argument& e) {
        diagnostics d;
        d.detail = e.what();
        throw spark_error(errc::invalid_argument, d);
    }
}

json::value emulator::state() const {
    std::lock_guard lock(impl_->mu);
    return impl_->state_json();
}

std::size_t emulator::request_count() const {
    std::lock_guard lock(impl_->mu);
    return impl_->requests;
}

}  // namespace cspark

