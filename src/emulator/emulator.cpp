// The emulator's routes on the server core. Handlers are synchronous: job
// progress is computed from the injectable clock at each request.
#include <cspark/emulator.hpp>

#include "core/multipart.hpp"
#include "core/text.hpp"
#include "emulator/faults.hpp"
#include "emulator/model.hpp"
#include "server/certs.hpp"
#include "server/http_server.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <fstream>
#include <mutex>
#include <sstream>
#include <unistd.h>

namespace cspark {
namespace asio = boost::asio;
namespace json = boost::json;
using emu::api_error;

namespace {

enum class job_kind { export_job, import_job };

struct job {
    std::string id;
    job_kind kind = job_kind::export_job;
    std::string tenant;
    clock_type::time_point created, due;
    std::optional<clock_type::time_point> finished;
    bool cancelled = false, fail = false, never_finishes = false, no_files = false, settled = false;
    bool no_hash = false, same_file_names = false, file_link = false;
    json::value source_system = nullptr, correlation_id = nullptr;
    std::string request_id;
    json::value errors = nullptr;
    // export
    std::filesystem::path file;
    std::string file_name, file_hash, download_token;
    std::uint64_t file_size = 0;
    json::value services = json::array(), service_versions = json::array();
    // import
    emu::package_contents pkg;
    std::vector<emu::mapping> mappings;
    std::string action;
};

server::response_plan json_reply(int status, const json::value& body, header_list extra = {}) {
    return server::json_response(status, json::serialize(body), std::move(extra));
}

server::response_plan error_reply(const api_error& e) { return json_reply(e.status, e.body()); }

server::response_plan error_reply(int status, std::string code, std::string message, std::string type = "invalid_input") {
    api_error e;
    e.status = status;
    e.code = std::move(code);
    e.message = std::move(message);
    e.type = std::move(type);
    return error_reply(e);
}

server::response_plan unauthorized() {
    return json_reply(401, json::object{{"status", "Error"}, {"errorCode", "INVALID_TOKEN"}});
}

std::vector<std::string> split_path(std::string_view path) {
    std::vector<std::string> out;
    std::size_t pos = 0;
    while (pos < path.size()) {
        auto slash = path.find('/', pos);
        auto part = path.substr(pos, slash == std::string_view::npos ? std::string_view::npos : slash - pos);
        if (!part.empty()) out.emplace_back(part);
        if (slash == std::string_view::npos) break;
        pos = slash + 1;
    }
    return out;
}

std::string url_decode(std::string_view s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '+') {
            out += ' ';
        } else if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
                   std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
            out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
            i += 2;
        } else {
            out += s[i];
        }
    }
    return out;
}

std::map<std::string, std::string> parse_form(std::string_view s) {
    std::map<std::string, std::string> out;
    std::size_t pos = 0;
    while (pos <= s.size()) {
        auto amp = s.find('&', pos);
        auto pair = s.substr(pos, amp == std::string_view::npos ? std::string_view::npos : amp - pos);
        auto eq = pair.find('=');
        if (!pair.empty()) out[url_decode(pair.substr(0, eq))] = eq == std::string_view::npos ? "" : url_decode(pair.substr(eq + 1));
        if (amp == std::string_view::npos) break;
        pos = amp + 1;
    }
    return out;
}

// Streams a multipart import body: importRequestEntity into memory (bounded),
// file into a temporary file; removes the file unless taken.
class upload_sink final : public body_sink {
public:
    using release_fn = std::function<void(std::filesystem::path)>;
    upload_sink(std::string boundary, std::filesystem::path tmp, std::uint64_t max_file, release_fn release)
        : parser_(std::move(boundary), {[this](const detail::part_info& p) { begin(p); },
                                        [this](std::span<const char> d) { data(d); }, [this] { current_ = part::none; }}),
          tmp_(std::move(tmp)),
          max_file_(max_file),
          release_(std::move(release)) {}
    ~upload_sink() override {
        if (fd_ >= 0) ::close(fd_);
        if (!taken_) release_(tmp_);
    }
    void write(std::span<const char> d, error_code& ec) override {
        if (!parser_.feed(d)) ec = errc::invalid_argument;
        if (!io_error_.empty()) ec = errc::file_error;
    }
    bool complete() const { return parser_.finished(); }
    std::string parse_error() const { return parser_.error().empty() ? io_error_ : parser_.error(); }
    bool has_entity() const { return entity_seen_; }
    bool has_file() const { return file_seen_; }
    bool file_too_large() const { return file_bytes_ > max_file_; }
    std::uint64_t file_bytes() const { return file_bytes_; }
    const std::string& entity() const { return entity_; }
    std::filesystem::path take() {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
        taken_ = true;
        return tmp_;
    }

private:
    enum class part { none, entity, file, other };
    void begin(const detail::part_info& p) {
        if (p.name == "importRequestEntity") {
            current_ = part::entity;
            entity_seen_ = true;
        } else if (p.name == "file") {
            current_ = part::file;
            file_seen_ = true;
            if (fd_ < 0) fd_ = ::open(tmp_.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);
            if (fd_ < 0) io_error_ = "cannot create the upload file";
        } else {
            current_ = part::other;
        }
    }
    void data(std::span<const char> d) {
        if (current_ == part::entity) {
            if (entity_.size() + d.size() > 1024 * 1024) {
                io_error_ = "importRequestEntity exceeds 1 MiB";
                return;
            }
            entity_.append(d.data(), d.size());
        } else if (current_ == part::file) {
            file_bytes_ += d.size();
            if (file_bytes_ > max_file_ || fd_ < 0) return;  // over the limit: counted, not kept
            if (!detail::write_all(fd_, d.data(), d.size())) io_error_ = "writing the upload failed";
        }
    }

    detail::multipart_parser parser_;
    std::filesystem::path tmp_;
    std::uint64_t max_file_;
    release_fn release_;
    int fd_ = -1;
    bool taken_ = false, entity_seen_ = false, file_seen_ = false;
    part current_ = part::none;
    std::string entity_, io_error_;
    std::uint64_t file_bytes_ = 0;
};

}  // namespace

struct emulator::impl : server::handler, std::enable_shared_from_this<emulator::impl> {
    asio::any_io_executor ex;
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
    std::string cert_pem;
    std::uint64_t requests = 0;
    std::uint64_t upload_seq = 0;
    // Upload files are reused, not deleted: creating and deleting thousands
    // of files costs ext4 more CPU than everything else the emulator does.
    std::vector<std::filesystem::path> free_uploads;
    void release_upload(std::filesystem::path p) {
        std::lock_guard lock(mu);
        free_uploads.push_back(std::move(p));
    }
    std::FILE* log = nullptr;
    mutable std::mutex mu;  // handlers may run on several io threads

    ~impl() override {
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
        return j.cancelled || (!j.never_finishes && t >= j.due);
    }

    void settle(job& j, clock_type::time_point t) {
        if (j.settled || j.cancelled || j.never_finishes || t < j.due) return;
        j.settled = true;
        j.finished = j.due;
        if (j.fail) {
            j.errors = json::array{json::object{{"type", "processing_error"},
                                                {"code", j.kind == job_kind::export_job ? "EXPORT_FAILED" : "IMPORT_FAILED"},
                                                {"message", "the job failed (injected fault)"}}};
            return;
        }
        if (j.kind == job_kind::import_job) {
            auto& t_ = tenants.at(j.tenant);
            auto r = emu::apply_import(t_, j.pkg, j.mappings, j.action);
            j.services = std::move(r.services);
            j.service_versions = std::move(r.service_versions);
            j.errors = std::move(r.errors);
        }
    }

    std::string status_of(job& j, clock_type::time_point t) {
        settle(j, t);
        if (j.cancelled) return "cancelled";
        if (j.never_finishes || t < j.due) {
            return t < j.created + (j.due - j.created) / 5 ? "created" : "in_progress";
        }
        if (!j.errors.is_null() && cfg.failed_status) return "failed";
        if (cfg.report_completed && t < j.due + (j.due - j.created) / 2 + std::chrono::milliseconds(1)) return "completed";
        return "closed";
    }

    std::string base_of(const server::request_head& h) const {
        return std::string(h.tls ? "https://" : "http://") + (h.host.empty() ? "127.0.0.1" : h.host);
    }

    json::object status_json(job& j, const server::request_head& h) {
        auto t = now();
        std::string status = status_of(j, t);
        bool exp = j.kind == job_kind::export_job;
        std::string kind = exp ? "export" : "import";
        auto end = j.finished ? *j.finished : (j.cancelled ? t : std::min(t, j.due));
        json::object outputs;
        bool done_ok = j.settled && j.errors.is_null();
        if (exp) {
            json::array files;
            if (done_ok && !j.no_files) {
                std::string link = (j.file_link ? std::string("file://") : base_of(h)) + "/download/" + j.id + "/" +
                                   j.file_name + "?token=" + j.download_token;
                json::object file{{"file", link}};
                if (!j.no_hash) file["file_hash"] = j.file_hash;
                files.push_back(file);
                if (j.same_file_names) {  // the same package under another path ending in the same name
                    file["file"] = base_of(h) + "/download/" + j.id + "/copy/" + j.file_name + "?token=" + j.download_token;
                    files.push_back(std::move(file));
                }
            }
            outputs["files"] = std::move(files);
            outputs["services"] = done_ok ? j.services : json::array();
            outputs["service_versions"] = done_ok ? j.service_versions : json::array();
        } else {
            outputs["services"] = j.settled ? j.services : json::array();
            outputs["service_versions"] = j.settled ? j.service_versions : json::array();
        }
        return json::object{{"object", kind},
                            {"id", j.id},
                            {"status", status},
                            {"status_url", base_of(h) + "/" + j.tenant + "/api/v4/" + kind + "/" + j.id + "/status"},
                            {"response_timestamp", timestamp(t)},
                            {"process_time", std::chrono::duration_cast<std::chrono::milliseconds>(end - j.created).count()},
                            {"outputs", std::move(outputs)},
                            {"errors", j.errors},
                            {"warnings", json::array()},
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
        j.due = j.created + cfg.job_duration;
        j.request_id = std::string(h.header("x-request-id"));
        for (auto* f : fired) {
            if (f->kind == "job_fail") j.fail = true;
            if (f->kind == "job_never_finishes") j.never_finishes = true;
            if (f->kind == "job_no_files") j.no_files = true;
            if (f->kind == "job_no_hash") j.no_hash = true;
            if (f->kind == "job_same_file_names") j.same_file_names = true;
            if (f->kind == "link_scheme") j.file_link = true;
        }
        job_order.push_back(j.id);
        return jobs.emplace(j.id, std::move(j)).first->second;
    }

    // ---- auth
    enum class auth_result { ok, denied, missing_header };
    auth_result authenticate(const server::request_head& h, const emu::tenant& t, std::string& missing) {
        if (cfg.strict) {
            for (auto name : {"x-tenant-name", "x-request-id", "x-spark-ua"})
                if (h.header(name).empty()) {
                    missing = name;
                    return auth_result::missing_header;
                }
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
                        std::make_shared<upload_sink>(*boundary, tmp, cfg.max_upload_bytes, release)};
            }
        }
        return {1024 * 1024, nullptr};
    }

    server::response_plan handle(const server::request_head& h, std::string& body,
                                 const server::body_status& st) override;
    server::response_plan route(const server::request_head& h, std::string& body, const server::body_status& st,
                                std::string& route_name, std::string& tenant_name);

    void log_request(const server::request_head& h, int status, const std::string& tenant) {
        if (!log) return;
        json::object o{{"ts", detail::utc_timestamp()},
                       {"method", h.method},
                       {"path", std::string(h.path())},
                       {"status", status},
                       {"tenant", tenant},
                       {"request_id", std::string(h.header("x-request-id"))}};
        std::string line = json::serialize(o) + "\n";
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
    json::value state_json();
};

// ------------------------------------------------------------------ handle

server::response_plan emulator::impl::handle(const server::request_head& h, std::string& body,
                                              const server::body_status& st) {
    std::lock_guard lock(mu);
    ++requests;
    std::string route_name, tenant_name;
    server::response_plan plan = route(h, body, st, route_name, tenant_name);
    log_request(h, plan.reset ? 0 : plan.status, tenant_name);
    return plan;
}

server::response_plan emulator::impl::route(const server::request_head& h, std::string& body,
                                            const server::body_status& st, std::string& route_name,
                                            std::string& tenant_name) {
    auto parts = split_path(h.path());
    const std::string& m = h.method;
    auto method_not_allowed = [](std::string allow) {
        auto p = error_reply(405, "METHOD_NOT_ALLOWED", "use " + allow, "invalid_request");
        p.headers.emplace_back("Allow", allow);
        return p;
    };
    if (!parts.empty() && parts[0] == "_emulator") return admin(h, parts, body);

    // Which route is it? (name, tenant, allowed method)
    std::string allow;
    std::string job_id;
    if (parts.size() == 6 && parts[0] == "auth" && parts[1] == "realms" && parts[3] == "protocol" &&
        parts[4] == "openid-connect" && parts[5] == "token") {
        route_name = "token", allow = "POST", tenant_name = parts[2];
    } else if ((parts.size() == 3 || (parts.size() == 4 && parts[2] == "copy")) && parts[0] == "download") {
        route_name = "download", allow = "GET, HEAD", job_id = parts[1];
    } else if (parts.size() >= 4 && parts[1] == "api" && parts[2] == "v4" && (parts[3] == "export" || parts[3] == "import")) {
        tenant_name = parts[0];
        std::string kind = parts[3];
        if (parts.size() == 4) {
            route_name = kind + ".create", allow = "POST";
        } else if (parts.size() == 5 && parts[4] == "status") {
            route_name = kind + ".describe", allow = "GET";
        } else if (parts.size() == 6 && parts[5] == "status") {
            route_name = kind + ".status", allow = "GET", job_id = parts[4];
        } else if (parts.size() == 5 && kind == "export") {
            route_name = "export.cancel", allow = "PATCH", job_id = parts[4];
        }
    }
    if (route_name.empty())
        return error_reply(404, "ROUTE_NOT_FOUND", "no route for " + m + " " + std::string(h.path()), "not_found");
    bool head_ok = allow.find("HEAD") != std::string::npos && m == "HEAD";
    if (allow.find(m) == std::string::npos && !head_ok) return method_not_allowed(allow);

    auto fired = faults.fire(route_name, tenant_name);
    server::response_plan plan;
    bool refused = false;
    for (auto* f : fired) {
        if (f->kind == "status" && !f->after_action) {
            header_list extra;
            if (f->status == 429 && f->retry_after >= 0) {
                std::ostringstream ra;
                ra << f->retry_after;
                extra.emplace_back("x-retry-after", ra.str());
            }
            plan = json_reply(f->status, json::object{{"type", "fault"}, {"code", "INJECTED_FAULT"},
                                                      {"message", "injected " + std::to_string(f->status) + " on " + route_name}},
                              std::move(extra));
            refused = true;  // refused before any action
        }
    }

    if (!refused) {
        if (route_name == "token") {
            plan = token(h, tenant_name, body);
        } else if (route_name == "download") {
            plan = download(h, job_id, fired, tenant_name);
        } else {
            auto t = tenants.find(tenant_name);
            std::string missing;
            auto auth = t == tenants.end() ? auth_result::denied : authenticate(h, t->second, missing);
            if (auth == auth_result::missing_header) {
                plan = error_reply(400, "MISSING_HEADER", "header '" + missing + "' is required (strict mode)");
            } else if (auth == auth_result::denied) {
                plan = unauthorized();
            } else if (route_name == "export.create") {
                plan = export_create(h, t->second, body, fired);
            } else if (route_name == "import.create") {
                plan = import_create(h, t->second, body, st, fired);
            } else if (route_name == "export.describe" || route_name == "import.describe") {
                plan = describe(t->second, route_name == "export.describe" ? job_kind::export_job : job_kind::import_job);
            } else {
                auto j = jobs.find(job_id);
                bool want_export = route_name != "import.status";
                if (j == jobs.end() || j->second.tenant != tenant_name ||
                    (j->second.kind == job_kind::export_job) != want_export) {
                    plan = error_reply(500, "INVALID_JOB_ID", "Please Provide valid job id");
                } else if (route_name == "export.cancel") {
                    error_code jec;
                    json::value req = json::parse(body, jec);
                    const json::value* s = (!jec && req.is_object()) ? req.get_object().if_contains("export_status") : nullptr;
                    if (!s || !s->is_string() || s->get_string() != "cancelled") {
                        plan = error_reply(400, "INVALID_REQUEST", "body must be {\"export_status\":\"cancelled\"}");
                    } else {
                        if (!terminal(j->second, now())) {
                            j->second.cancelled = true;
                            j->second.finished = now();
                        }
                        plan = json_reply(200, status_json(j->second, h));
                    }
                } else {
                    plan = json_reply(200, status_json(j->second, h));
                }
            }
        }
    }

    for (auto* f : fired) {
        if (f->kind == "status" && f->after_action)  // acted on, but a gateway answers for the server
            plan = json_reply(f->status, json::object{{"type", "fault"}, {"code", "INJECTED_FAULT"},
                                                      {"message", "injected " + std::to_string(f->status) + " after " + route_name}});
        if (f->kind == "reset") plan.reset = true;  // after any action: the response is lost
        if (f->kind == "reset_mid_body") plan.reset_after = f->after_bytes;
        if (f->kind == "slow_body") plan.bytes_per_second = std::max<std::uint64_t>(f->bytes_per_second, 1);
        if (f->kind == "delay") plan.delay = f->delay;
    }
    return plan;
}

// ------------------------------------------------------------------ routes

server::response_plan emulator::impl::token(const server::request_head&, const std::string& tenant_name,
                                            const std::string& body) {
    auto form = parse_form(body);
    if (form["grant_type"] != "client_credentials")
        return json_reply(400, json::object{{"error", "unsupported_grant_type"},
                                            {"error_description", "grant_type must be client_credentials"}});
    auto t = tenants.find(tenant_name);
    if (t == tenants.end() || t->second.client_id.empty() || form["client_id"] != t->second.client_id ||
        form["client_secret"] != t->second.client_secret)
        return json_reply(401, json::object{{"error", "unauthorized_client"},
                                            {"error_description", "Invalid client or Invalid client credentials"}});
    std::string tok = "emu-" + detail::uuid4(rng) + detail::uuid4(rng);
    tokens[tok] = {tenant_name, now() + cfg.token_lifetime};
    return json_reply(200, json::object{{"access_token", tok},
                                        {"expires_in", cfg.token_lifetime.count()},
                                        {"refresh_expires_in", 0},
                                        {"token_type", "Bearer"},
                                        {"not-before-policy", 0},
                                        {"scope", "openid"}});
}

server::response_plan emulator::impl::export_create(const server::request_head& h, emu::tenant& t,
                                                    const std::string& body,
                                                    const std::vector<const emu::fault_rule*>& fired) {
    error_code jec;
    json::value req = json::parse(body, jec);
    if (jec || !req.is_object()) return error_reply(400, "INVALID_REQUEST", "request body must be a JSON object");
    const auto& o = req.get_object();
    auto text = [&](std::string_view key, std::string def, std::string& out) -> bool {
        const json::value* p = o.if_contains(key);
        if (!p || p->is_null()) {
            out = std::move(def);
            return true;
        }
        if (!p->is_string()) return false;
        out = std::string(p->get_string());
        return true;
    };
    std::string file_filter, version_filter;
    if (!text("file_filter", "migrate", file_filter) || (file_filter != "migrate" && file_filter != "onpremises"))
        return error_reply(400, "INVALID_REQUEST", "file_filter must be migrate or onpremises");
    if (!text("version_filter", "latest", version_filter) || (version_filter != "latest" && version_filter != "all"))
        return error_reply(400, "INVALID_REQUEST", "version_filter must be latest or all");
    const json::value* inputs = o.if_contains("inputs");
    if (inputs && !inputs->is_object()) return error_reply(400, "INVALID_REQUEST", "inputs must be an object");
    if (inputs)
        for (auto key : {"folders", "services", "version_ids"})
            if (auto* p = inputs->get_object().if_contains(key); p && !p->is_array() && !p->is_null())
                return error_reply(400, "INVALID_REQUEST", std::string("inputs.") + key + " must be an array of strings");
    api_error err;
    auto selected = emu::select_versions(t, inputs ? *inputs : json::value(json::object()), version_filter, err);
    if (!selected) return error_reply(err);
    if (running(t.name, job_kind::export_job) >= cfg.export_job_limit)
        return error_reply(cfg.job_in_progress_status, "JOB_IN_PROGRESS",
                           "an export job is already running for tenant '" + t.name + "'", "conflict");

    job& j = new_job(job_kind::export_job, t.name, h, fired);
    j.source_system = o.contains("source_system") ? o.at("source_system") : json::value(nullptr);
    j.correlation_id = o.contains("correlation_id") ? o.at("correlation_id") : json::value(nullptr);
    std::filesystem::create_directories(data_dir / "exports");
    j.file = data_dir / "exports" / (j.id + ".zip");
    j.file_name = t.name + "-export-" + j.id.substr(0, 8) + ".zip";
    try {
        auto pkg = emu::write_package(j.file, t.name, *selected, file_filter, cfg.package_bytes);
        j.file_hash = pkg.sha256;
        j.file_size = pkg.size;
        j.services = std::move(pkg.services);
        j.service_versions = std::move(pkg.service_versions);
    } catch (const std::exception&) {
        j.fail = true;  // surfaces as a failed job, as Spark reports export problems
    }
    j.download_token = detail::uuid4(rng);
    return json_reply(200, status_json(j, h));
}

server::response_plan emulator::impl::import_create(const server::request_head& h, emu::tenant& t, std::string&,
                                                    const server::body_status& st,
                                                    const std::vector<const emu::fault_rule*>& fired) {
    auto* sink = dynamic_cast<upload_sink*>(st.sink);
    if (!sink)
        return error_reply(400, "INVALID_REQUEST", "Content-Type must be multipart/form-data with a boundary");
    auto mb = [](std::uint64_t b) { return std::to_string((b + 1024 * 1024 - 1) / (1024 * 1024)); };
    if (st.too_large || sink->file_too_large())
        return error_reply(500, "EXCEEDED_FILE_SIZE",
                           "The uploaded file size of " + mb(std::max(sink->file_bytes(), st.bytes)) +
                               " MB exceeds the upload limit of " + mb(cfg.max_upload_bytes) + " MB.");
    if (st.sink_error || !sink->complete())
        return error_reply(400, "INVALID_REQUEST",
                           "malformed multipart body: " + (sink->parse_error().empty() ? std::string("truncated")
                                                                                       : sink->parse_error()));
    if (!sink->has_entity()) return error_reply(400, "INVALID_REQUEST", "the multipart part 'importRequestEntity' is missing");
    if (!sink->has_file()) return error_reply(400, "INVALID_REQUEST", "the multipart part 'file' is missing");
    error_code jec;
    json::value entity = json::parse(sink->entity(), jec);
    if (jec || !entity.is_object()) return error_reply(400, "INVALID_REQUEST", "importRequestEntity is not a JSON object");
    if (running(t.name, job_kind::import_job) >= cfg.import_job_limit)
        return error_reply(cfg.job_in_progress_status, "JOB_IN_PROGRESS",
                           "an import job is already running for tenant '" + t.name + "'", "conflict");
    auto path = sink->take();
    struct giveback {
        impl* self;
        std::filesystem::path p;
        ~giveback() { self->free_uploads.push_back(p); }  // mu is held by handle()
    } cleanup{this, path};
    api_error err;
    auto pkg = emu::read_package(path, err);
    if (!pkg) return error_reply(err);
    std::string action;
    auto mappings = emu::parse_import_entity(entity, *pkg, action, err);
    if (!mappings) return error_reply(err);

    job& j = new_job(job_kind::import_job, t.name, h, fired);
    const auto& eo = entity.get_object();
    j.source_system = eo.contains("source_system") ? eo.at("source_system") : json::value(nullptr);
    j.correlation_id = eo.contains("correlation_id") ? eo.at("correlation_id") : json::value(nullptr);
    j.pkg = std::move(*pkg);
    j.mappings = std::move(*mappings);
    j.action = action;
    return json_reply(200, json::object{{"id", j.id},
                                        {"object", "import"},
                                        {"status", "created"},
                                        {"status_url", base_of(h) + "/" + t.name + "/api/v4/import/" + j.id + "/status"}});
}

server::response_plan emulator::impl::describe(emu::tenant& t, job_kind k) {
    auto tnow = now();
    json::array in_progress, recent;
    std::string kind = k == job_kind::export_job ? "export" : "import";
    for (const auto& id : job_order) {
        auto& j = jobs.at(id);
        if (j.tenant != t.name || j.kind != k) continue;
        std::string status = status_of(j, tnow);
        auto end = j.finished ? *j.finished : tnow;
        json::object item{{"object", kind},
                          {"id", j.id},
                          {"data", json::object{{kind + "_status", status},
                                                {"response_timestamp", timestamp(tnow)},
                                                {"created_by", t.name + "-user"},
                                                {"created_timestamp", timestamp(j.created)},
                                                {"updated_timestamp", timestamp(end)},
                                                {"process_time", std::chrono::duration_cast<std::chrono::milliseconds>(end - j.created).count()},
                                                {"source_system", j.source_system}}}};
        if (cfg.describe_correlation) item["data"].get_object()["correlation_id"] = j.correlation_id;
        if (!terminal(j, tnow))
            in_progress.push_back(std::move(item));
        else if (tnow - end <= cfg.describe_window)
            recent.push_back(std::move(item));
    }
    std::size_t limit = k == job_kind::export_job ? cfg.export_job_limit : cfg.import_job_limit;
    std::size_t n = in_progress.size();
    return json_reply(200, json::object{{"in_progress_" + kind + "s", std::move(in_progress)},
                                        {"recent_" + kind + "s", std::move(recent)},
                                        {"tenant", json::object{{"configuration", json::object{{kind + "_api_job_limit", limit}}},
                                                                {"status", json::object{{kind + "_api_jobs_in_progress", n}}}}}});
}

server::response_plan emulator::impl::download(const server::request_head& h, const std::string& job_id,
                                               const std::vector<const emu::fault_rule*>& fired,
                                               std::string& tenant_name) {
    auto not_found = [] { return error_reply(404, "LINK_EXPIRED", "the download link is invalid or has expired", "not_found"); };
    auto j = jobs.find(job_id);
    if (j == jobs.end()) return not_found();
    tenant_name = j->second.tenant;
    std::string token;
    for (auto& [k, v] : parse_form(h.query()))
        if (k == "token") token = v;
    auto& jb = j->second;
    settle(jb, now());
    bool expired = now() > jb.due + cfg.download_ttl;
    for (auto* f : fired)
        if (f->kind == "expire_link") expired = true;
    if (token.empty() || token != jb.download_token || !jb.settled || !jb.errors.is_null() || expired)
        return not_found();

    std::uint64_t size = jb.file_size, first = 0, last = size ? size - 1 : 0;
    int status = 200;
    header_list headers{{"Content-Type", "application/zip"},
                        {"Accept-Ranges", "bytes"},
                        {"Content-Disposition", "attachment; filename=\"" + jb.file_name + "\""}};
    if (auto range = h.header("range"); !range.empty()) {
        // One "bytes=a-b", "bytes=a-" or "bytes=-n" range.
        auto bad_range = [&] {
            auto p = error_reply(416, "RANGE_NOT_SATISFIABLE", "range '" + std::string(range) + "' cannot be served");
            p.headers.emplace_back("Content-Range", "bytes */" + std::to_string(size));
            return p;
        };
        if (!detail::starts_with_icase(range, "bytes=") || range.find(',') != std::string_view::npos) return bad_range();
        auto spec = range.substr(6);
        auto dash = spec.find('-');
        if (dash == std::string_view::npos) return bad_range();
        auto a = std::string(spec.substr(0, dash)), b = std::string(spec.substr(dash + 1));
        auto num = [](const std::string& s, std::uint64_t& out) {
            if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos || s.size() > 18) return false;
            out = std::stoull(s);
            return true;
        };
        std::uint64_t x = 0, y = 0;
        if (a.empty()) {
            if (!num(b, y) || y == 0 || size == 0) return bad_range();
            first = y >= size ? 0 : size - y;
        } else {
            if (!num(a, x) || x >= size) return bad_range();
            first = x;
            if (!b.empty()) {
                if (!num(b, y) || y < x) return bad_range();
                last = std::min(y, size - 1);
            }
        }
        status = 206;
        headers.emplace_back("Content-Range",
                             "bytes " + std::to_string(first) + "-" + std::to_string(last) + "/" + std::to_string(size));
    }
    for (auto* f : fired)
        if (f->kind == "range_wrong_bytes" && status == 206) {  // the right length, from the wrong offset
            last -= first;
            first = 0;
        }
    error_code ec;
    auto src = make_file_source(jb.file, ec, first, size ? last - first + 1 : 0);
    if (!src) return error_reply(500, "FILE_MISSING", "the package file is gone", "server_error");
    server::response_plan p;
    p.status = status;
    p.headers = std::move(headers);
    p.source = std::move(src);
    return p;
}

json::value emulator::impl::state_json() {
    auto tnow = now();
    for (auto& [_, j] : jobs) settle(j, tnow);  // the tenants below must show finished imports
    json::object ts;
    for (auto& [name, t] : tenants) {
        json::object fs;
        for (auto& [fname, f] : t.folders) {
            json::object ss;
            for (auto& [sname, s] : f.services) {
                json::array vs;
                for (auto& v : s.versions) vs.push_back(json::object{{"id", v.id}, {"version", v.semver}});
                ss[sname] = json::object{{"id", s.id}, {"versions", std::move(vs)}};
            }
            fs[fname] = json::object{{"services", std::move(ss)}};
        }
        ts[name] = json::object{{"folders", std::move(fs)}};
    }
    json::array js;
    for (const auto& id : job_order) {
        auto& j = jobs.at(id);
        std::string status = status_of(j, tnow);
        json::object o{{"id", j.id},
                       {"tenant", j.tenant},
                       {"kind", j.kind == job_kind::export_job ? "export" : "import"},
                       {"status", status},
                       {"created_ms", ms_since_epoch(j.created)},
                       {"finished_ms", j.finished ? json::value(ms_since_epoch(*j.finished)) : json::value(nullptr)},
                       {"correlation_id", j.correlation_id},
                       {"source_system", j.source_system},
                       {"request_id", j.request_id},
                       {"errors", j.errors}};
        if (j.kind == job_kind::export_job) o["file_hash"] = j.file_hash;
        js.push_back(std::move(o));
    }
    return json::object{{"tenants", std::move(ts)}, {"jobs", std::move(js)}, {"requests", requests}};
}

server::response_plan emulator::impl::admin(const server::request_head& h, const std::vector<std::string>& parts,
                                            const std::string& body) {
    std::string what = parts.size() == 2 ? parts[1] : "";
    if (what == "state" && h.method == "GET") return json_reply(200, state_json());
    if (what == "faults") {
        if (h.method == "GET") return json_reply(200, faults.to_json());
        if (h.method == "DELETE") {
            faults.clear();
            return json_reply(200, faults.to_json());
        }
        if (h.method == "PUT" || h.method == "POST") {
            error_code jec;
            json::value doc = json::parse(body, jec);
            if (jec) return error_reply(400, "INVALID_REQUEST", "faults document is not JSON");
            try {
                faults.load(doc);
            } catch (const std::exception& e) {
                return error_reply(400, "INVALID_FAULTS", e.what());
            }
            return json_reply(200, faults.to_json());
        }
    }
    if (what == "clock" && h.method == "POST") {
        auto manual = std::dynamic_pointer_cast<manual_timer_service>(clock);
        if (!manual) return error_reply(409, "REAL_CLOCK", "the emulator runs on real time; start it with a manual clock");
        error_code jec;
        json::value doc = json::parse(body, jec);
        const json::value* ms = (!jec && doc.is_object()) ? doc.get_object().if_contains("advance_ms") : nullptr;
        if (!ms || !ms->is_number()) return error_reply(400, "INVALID_REQUEST", "body must be {\"advance_ms\": N}");
        manual->advance(std::chrono::milliseconds(ms->to_number<std::int64_t>()));
        return json_reply(200, json::object{{"now_ms", ms_since_epoch(now())}});
    }
    return error_reply(404, "ROUTE_NOT_FOUND", "admin routes: GET state, GET/PUT/DELETE faults, POST clock", "not_found");
}

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
    std::error_code fec;
    std::filesystem::create_directories(s.data_dir / "uploads", fec);
    std::filesystem::create_directories(s.data_dir / "exports", fec);
    if (fec) {
        diagnostics d;
        d.detail = "cannot create data directory '" + s.data_dir.string() + "': " + fec.message();
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
    error_code jec;
    json::value v = json::parse(ss.str(), jec);
    if (jec) seed_error(path.string(), "is not JSON (" + jec.message() + ")");
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
            auto pems = server::make_self_signed({"localhost"}, {"127.0.0.1", "::1"});
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
    s.srv = std::make_unique<server::http_server>(s.ex, sc, impl_);
    s.srv->start();
}

void emulator::stop() {
    if (impl_->srv) impl_->srv->stop();
}

std::uint16_t emulator::port() const { return impl_->srv ? impl_->srv->port() : 0; }
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
