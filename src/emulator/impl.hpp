// Internal: the emulator's state and the declarations its route files share
// (routes.cpp: the route table and the small routes; jobs.cpp: export and
// import jobs; emulator.cpp: the public class).
#pragma once

#include <cspark/emulator.hpp>

#include "core/multipart.hpp"
#include "core/text.hpp"
#include "emulator/faults.hpp"
#include "emulator/model.hpp"
#include "server/http_server.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include "emulator/replies.hpp"
#include "emulator/upload.hpp"
#include "emulator/worker.hpp"

#include <cstdio>
#include <map>
#include <mutex>
#include <random>

namespace cspark {
namespace json = boost::json;  // an internal header: the emulator's files share these names
namespace asio = boost::asio;
namespace emu {

enum class job_kind { export_job, import_job };

struct job {
    std::string id;
    job_kind kind = job_kind::export_job;
    std::string tenant;
    clock_type::time_point created, due;
    std::optional<clock_type::time_point> finished;
    bool cancelled = false, fail = false, never_finishes = false, no_files = false, settled = false;
    bool no_hash = false, same_file_names = false, file_link = false, wrong_hash = false;
    std::string end_status;      // a job_status fault: the status it ends with ("" = closed)
    std::string errors_as = "list";  // a job_fail fault: the shape of its errors
    json::value warnings = json::array();
    std::string service_status;  // a service_failed fault: the status of the import's first service
    bool building = false;  // the package is being built off the server's threads: not finished before it is
    clock_type::time_point built;
    json::value source_system = nullptr, correlation_id = nullptr;
    std::string request_id;
    json::value errors = nullptr;
    // export
    std::filesystem::path file;
    std::string file_name, file_hash, download_token;
    std::string store_token;  // the document store's link: an opaque, URL-encoded path segment
    std::uint64_t file_size = 0;
    json::value services = json::array(), service_versions = json::array();
    // import
    emu::package_contents pkg;
    std::vector<emu::mapping> mappings;
    std::string action;
};


}  // namespace emu

using emu::api_error;
using emu::job;
using emu::job_kind;
using emu::json_reply;
using emu::error_reply;
using emu::unauthorized;
using emu::split_path;
using emu::parse_form;
using emu::upload_sink;

struct emulator::impl : server::handler, std::enable_shared_from_this<emulator::impl> {
    boost::asio::any_io_executor ex;
    emulator_config cfg;
    std::shared_ptr<timer_service> clock;
    clock_type::time_point epoch;
    std::chrono::system_clock::time_point wall_epoch = std::chrono::system_clock::now();
    std::filesystem::path data_dir;
    bool own_data_dir = false;
    std::map<std::string, emu::tenant> tenants;
    std::map<std::string, job> jobs;
    std::vector<std::string> job_order;
    std::map<std::string, std::pair<std::string, clock_type::time_point>> tokens;  // token -> tenant, expiry
    emu::fault_set faults;
    std::mt19937_64 rng{std::random_device{}()};
    std::unique_ptr<server::http_server> srv;
    std::unique_ptr<server::http_server> store;  // the document store's listener (links = store)
    std::map<std::string, std::string> store_tokens;  // a store link's token segment -> export job id
    std::string cert_pem;
    std::uint64_t requests = 0;
    std::uint64_t upload_seq = 0;
    // Upload files are reused, not deleted: creating and deleting thousands
    // of files costs ext4 more CPU than everything else the emulator does.
    std::vector<std::filesystem::path> free_uploads;
    std::shared_ptr<emu::upload_budget> uploads_in_memory = std::make_shared<emu::upload_budget>();  ///< limit: cfg.upload_memory_bytes
    void release_upload(std::filesystem::path p) {
        std::lock_guard lock(mu);
        free_uploads.push_back(std::move(p));
    }
    std::FILE* log = nullptr;
    mutable std::mutex mu;  // handlers may run on several io threads
    emu::worker builder;    // builds packages over cfg.inline_package_bytes

    ~impl() override {
        builder.stop();  // before the data directory goes
        if (log && log != stderr) std::fclose(log);
        if (own_data_dir) {
            std::error_code ignored;
            std::filesystem::remove_all(data_dir, ignored);
        }
    }

    clock_type::time_point now() const { return clock->now(); }
    std::int64_t ms_since_epoch(clock_type::time_point t) const {
        return std::chrono::duration_cast<std::chrono::milliseconds>(t - epoch).count();
    }
    std::string timestamp(clock_type::time_point t) const {
        return detail::utc_timestamp(wall_epoch + std::chrono::duration_cast<std::chrono::system_clock::duration>(t - epoch));
    }

    // ---- jobs
    bool terminal(const job& j, clock_type::time_point t) const {
        return j.cancelled || (!j.never_finishes && !j.building && t >= j.due);
    }

    void settle(job& j, clock_type::time_point t) {
        if (j.settled || !terminal(j, t) || j.cancelled) return;
        j.settled = true;
        j.finished = std::max(j.due, j.built);
        if (j.fail) {
            std::string code = j.kind == job_kind::export_job ? "EXPORT_FAILED" : "IMPORT_FAILED";
            boost::json::object e{{"type", "processing_error"}, {"code", code}, {"message", "the job failed (injected fault)"}};
            if (j.errors_as == "object") j.errors = std::move(e);  // as the OpenAPI spec types it
            else if (j.errors_as == "string") j.errors = code + ": the job failed (injected fault)";
            else j.errors = boost::json::array{std::move(e)};
            return;
        }
        if (j.kind == job_kind::import_job) {
            auto& t_ = tenants.at(j.tenant);
            auto r = emu::apply_import(t_, j.pkg, j.mappings, j.action);
            j.services = std::move(r.services);
            j.service_versions = std::move(r.service_versions);
            j.errors = std::move(r.errors);
            if (!j.service_status.empty() && j.errors.is_null()) fail_first_service(j);
        }
    }

    // A service_failed fault: the import's first service, and its versions,
    // did not go through (the job closes without errors all the same).
    static void fail_first_service(job& j) {
        auto& services = j.services.as_array();
        if (services.empty()) return;
        auto& first = services[0].as_object();
        std::string source = first.contains("service_uri_source") ? std::string(first["service_uri_source"].as_string()) : "";
        std::string why = "service '" + source + "' could not be imported: its compiled workbook is invalid (injected fault)";
        first["status"] = j.service_status;
        first["message"] = why;
        for (auto& v : j.service_versions.as_array()) {
            auto& o = v.as_object();
            std::string uri = o.contains("service_uri_source") ? std::string(o["service_uri_source"].as_string()) : "";
            if (uri.rfind(source + "[", 0) == 0) {
                o["status"] = j.service_status;
                o["message"] = why;
            }
        }
    }

    std::string status_of(job& j, clock_type::time_point t) {
        settle(j, t);
        if (j.cancelled) return "cancelled";
        if (!terminal(j, t)) {
            return t < j.created + (j.due - j.created) / 5 ? "created" : "in_progress";
        }
        if (!j.end_status.empty()) return j.end_status;
        if (!j.errors.is_null() && cfg.failed_status) return "failed";
        if (cfg.report_completed && t < j.due + (j.due - j.created) / 2 + std::chrono::milliseconds(1)) return "completed";
        return "closed";
    }

    std::string base_of(const server::request_head& h) const {
        return std::string(h.tls ? "https://" : "http://") + (h.host.empty() ? "127.0.0.1" : h.host);
    }
    // The document store: the host the request named, on the store's port.
    std::string store_base(const server::request_head& h) const {
        std::string host = h.host.empty() ? std::string("127.0.0.1") : h.host;
        auto colon = host.rfind(':');
        if (colon != std::string::npos && host.find(']', colon) == std::string::npos) host.resize(colon);
        return std::string(h.tls ? "https://" : "http://") + host + ":" + std::to_string(store->port());
    }

    boost::json::object status_json(job& j, const server::request_head& h) {
        auto t = now();
        std::string status = status_of(j, t);
        bool exp = j.kind == job_kind::export_job;
        std::string kind = exp ? "export" : "import";
        auto end = j.finished ? *j.finished : (j.cancelled || j.building ? t : std::min(t, j.due));
        boost::json::object outputs;
        bool done_ok = j.settled && j.errors.is_null() && j.end_status.empty();
        if (exp) {
            boost::json::array files;
            if (done_ok && !j.no_files) {
                std::string link = j.file_link ? "file:///download/" + j.id + "/" + j.file_name
                                   : store     ? store_base(h) + "/docstore/api/v1/documents/versions/tokens/" + j.store_token +
                                                 "/package.zip"
                                               : base_of(h) + "/download/" + j.id + "/" +
                                                 (cfg.opaque_links ? std::string("blob") : j.file_name) + "?token=" + j.download_token;
                boost::json::object file{{"file", link}};
                if (!j.no_hash) file["file_hash"] = j.wrong_hash ? std::string(j.file_hash.size(), '0') : j.file_hash;
                files.push_back(file);
                if (j.same_file_names) {  // the same package under another path ending in the same name
                    file["file"] = base_of(h) + "/download/" + j.id + "/copy/" + j.file_name + "?token=" + j.download_token;
                    files.push_back(std::move(file));
                }
            }
            outputs["files"] = std::move(files);
            outputs["services"] = done_ok ? j.services : boost::json::array();
            outputs["service_versions"] = done_ok ? j.service_versions : boost::json::array();
        } else {
            outputs["services"] = j.settled ? j.services : boost::json::array();
            outputs["service_versions"] = j.settled ? j.service_versions : boost::json::array();
        }
        return boost::json::object{{"object", kind},
                            {"id", j.id},
                            {"status", status},
                            {"status_url", base_of(h) + "/" + j.tenant + "/api/v4/" + kind + "/" + j.id + "/status"},
                            {"response_timestamp", timestamp(t)},
                            {"process_time", std::chrono::duration_cast<std::chrono::milliseconds>(end - j.created).count()},
                            {"outputs", std::move(outputs)},
                            {"errors", j.errors},
                            {"warnings", j.settled ? j.warnings : boost::json::array()},
                            {"source_system", j.source_system},
                            {"correlation_id", j.correlation_id}};
    }

    std::size_t running(const std::string& tenant, job_kind k) {
        std::size_t n = 0;
        auto t = now();
        for (auto& [_, j] : jobs)
            if (j.tenant == tenant && j.kind == k && !terminal(j, t)) ++n;
        return n;
    }

    job& new_job(job_kind k, const std::string& tenant, const server::request_head& h,
                 const std::vector<const emu::fault_rule*>& fired) {
        job j;
        j.id = detail::uuid4(rng);
        j.kind = k;
        j.tenant = tenant;
        j.created = now();
        auto duration = k == job_kind::export_job ? cfg.export_job_duration.value_or(cfg.job_duration)
                                                  : cfg.import_job_duration.value_or(cfg.job_duration);
        if (cfg.job_jitter > 0) {
            double f = std::uniform_real_distribution<double>(-cfg.job_jitter, cfg.job_jitter)(rng);
            duration = std::chrono::milliseconds(
                static_cast<std::int64_t>(static_cast<double>(duration.count()) * std::max(0.0, 1.0 + f)));
        }
        j.due = j.created + duration;
        j.request_id = std::string(h.header("x-request-id"));
        for (auto* f : fired) {
            if (f->kind == emu::fault_kind::job_fail) j.fail = true;
            if (f->kind == emu::fault_kind::job_never_finishes) j.never_finishes = true;
            if (f->kind == emu::fault_kind::job_no_files) j.no_files = true;
            if (f->kind == emu::fault_kind::job_no_hash) j.no_hash = true;
            if (f->kind == emu::fault_kind::job_wrong_hash) j.wrong_hash = true;
            if (f->kind == emu::fault_kind::job_same_file_names) j.same_file_names = true;
            if (f->kind == emu::fault_kind::link_scheme) j.file_link = true;
            if (f->kind == emu::fault_kind::job_status) j.end_status = f->job_status;
            if (f->kind == emu::fault_kind::job_fail) j.errors_as = f->errors_as;
            if (f->kind == emu::fault_kind::service_failed) j.service_status = f->service_status;
            if (f->kind == emu::fault_kind::job_warnings) j.warnings = injected_warnings(f->warnings_as);
        }
        job_order.push_back(j.id);
        return jobs.emplace(j.id, std::move(j)).first->second;
    }

    // A token as the store's links carry one: 186 random bytes in base64
    // (248 characters, '+', '/' and a closing '='), URL-encoded: an opaque
    // path segment of about 260 characters holding %2B, %2F and %3D.
    std::string store_token() {
        static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        std::string b64;
        std::uniform_int_distribution<int> byte(0, 255);
        for (int i = 0; i < 62; ++i) {  // 3 bytes -> 4 characters
            unsigned v = static_cast<unsigned>(byte(rng)) << 16 | static_cast<unsigned>(byte(rng)) << 8 | static_cast<unsigned>(byte(rng));
            for (int k = 3; k >= 0; --k) b64 += alphabet[(v >> (6 * k)) & 63];
        }
        b64.back() = '=';  // as the real tokens end
        b64[10] = '+';     // and hold both characters that need encoding
        b64[20] = '/';
        return detail::url_encode(b64);
    }

    static json::value injected_warnings(const std::string& as) {
        if (as == "objects")
            return json::array{json::object{{"code", "DEPRECATED_FUNCTION"}, {"message", "the workbook uses a deprecated function (injected fault)"}},
                               json::object{{"code", "LARGE_PACKAGE"}, {"message", "the package is close to the size limit (injected fault)"}}};
        return json::array{"the workbook uses a deprecated function (injected fault)",
                           "the package is close to the size limit (injected fault)"};
    }

    // ---- auth
    enum class auth_result { ok, denied, missing_header, tenant_mismatch };
    // API keys need x-tenant-name equal to the path's tenant (documented). A
    // bearer token or OAuth token carries its tenant; by default its
    // x-tenant-name is not read (raw scripts send none and work); --strict
    // requires it and requires it to name the path's tenant.
    auth_result authenticate(const server::request_head& h, const emu::tenant& t, std::string& missing) {
        if (cfg.strict) {
            for (auto name : {"x-tenant-name", "x-request-id", "x-spark-ua"})
                if (h.header(name).empty()) {
                    missing = name;
                    return auth_result::missing_header;
                }
            if (h.header("x-tenant-name") != t.name) return auth_result::tenant_mismatch;
        }
        auto authz = h.header("authorization");
        if (detail::starts_with_icase(authz, "bearer ")) {
            std::string tok(detail::trim(authz.substr(7)));
            if (!t.bearer_token.empty() && tok == t.bearer_token) return auth_result::ok;
            auto it = tokens.find(tok);
            if (it != tokens.end() && it->second.first == t.name && now() < it->second.second) return auth_result::ok;
            return auth_result::denied;
        }
        auto key = h.header("x-synthetic-key");
        if (!key.empty() && key == t.api_key && h.header("x-tenant-name") == t.name) return auth_result::ok;
        return auth_result::denied;
    }

    // ---- server::handler
    server::body_plan plan_body(const server::request_head& h) override {
        auto parts = split_path(h.path());
        if (h.method == "POST" && parts.size() == 4 && parts[1] == "api" && parts[2] == "v4" && parts[3] == "import") {
            auto boundary = detail::multipart_boundary(h.header("content-type"));
            if (boundary) {
                std::filesystem::path tmp;
                {
                    std::lock_guard lock(mu);
                    if (free_uploads.empty()) {
                        tmp = data_dir / "uploads" / ("upload-" + std::to_string(++upload_seq) + ".zip");
                    } else {
                        tmp = std::move(free_uploads.back());
                        free_uploads.pop_back();
                    }
                }
                std::weak_ptr<impl> weak = shared_from_this();
                auto release = [weak](std::filesystem::path p) {
                    if (auto self = weak.lock()) self->release_upload(std::move(p));
                };
                return {cfg.max_upload_bytes + 1024 * 1024,
                        std::make_shared<upload_sink>(*boundary, tmp, cfg.max_upload_bytes, release, uploads_in_memory)};
            }
        }
        return {1024 * 1024, nullptr};
    }

    server::response_plan handle(const server::request_head& h, std::string& body,
                                 const server::body_status& st) override;
    server::response_plan route(const server::request_head& h, std::string& body, const server::body_status& st,
                                std::string& route_name, std::string& tenant_name);
    server::response_plan tenant_route(const server::request_head& h, std::string& body, const server::body_status& st,
                                       std::string_view route, const std::string& tenant_name, const std::string& job_id,
                                       const std::vector<const emu::fault_rule*>& fired);
    void build_package(job& j, std::vector<emu::selected_version> versions, std::string file_filter);
    server::response_plan cancel_export(const server::request_head& h, job& j, const std::string& body);

    void log_request(const server::request_head& h, int status, const std::string& tenant) {
        if (!log) return;
        boost::json::object o{{"ts", detail::utc_timestamp()},
                       {"method", h.method},
                       {"path", std::string(h.path())},
                       {"status", status},
                       {"tenant", tenant},
                       {"request_id", std::string(h.header("x-request-id"))}};
        std::string line = boost::json::serialize(o) + "\n";
        std::fwrite(line.data(), 1, line.size(), log);
        std::fflush(log);
    }

    // ---- routes
    server::response_plan token(const server::request_head& h, const std::string& tenant_name, const std::string& body);
    server::response_plan export_create(const server::request_head& h, emu::tenant& t, const std::string& body,
                                        const std::vector<const emu::fault_rule*>& fired);
    server::response_plan import_create(const server::request_head& h, emu::tenant& t, std::string& body,
                                        const server::body_status& st, const std::vector<const emu::fault_rule*>& fired);
    server::response_plan describe(emu::tenant& t, job_kind k);
    server::response_plan download(const server::request_head& h, const std::string& job_id,
                                   const std::vector<const emu::fault_rule*>& fired, std::string& tenant_name);
    server::response_plan admin(const server::request_head& h, const std::vector<std::string>& parts,
                                const std::string& body);
    boost::json::value state_json();
};


}  // namespace cspark
