#include "convert.hpp"

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include <pybind11/stl.h>

#include <cmath>

namespace py = pybind11;
namespace json = boost::json;

namespace cspark::python {
namespace {

template <class T>
std::optional<T> get(const py::dict& d, const char* key) {
    if (!d.contains(key) || d[key].is_none()) return std::nullopt;
    return py::cast<T>(d[key]);
}

std::string text(const py::dict& d, const char* key) { return get<std::string>(d, key).value_or(""); }

std::vector<std::string> texts(const py::dict& d, const char* key) {
    return get<std::vector<std::string>>(d, key).value_or(std::vector<std::string>{});
}

std::chrono::milliseconds ms(double seconds) { return std::chrono::milliseconds(std::llround(seconds * 1000)); }

template <class Enum>
Enum enum_of(const py::dict& d, const char* key, Enum fallback) {
    auto s = get<std::string>(d, key);
    if (!s) return fallback;
    Enum out = fallback;
    if (!from_string(*s, out)) throw py::value_error(std::string(key) + ": '" + *s + "' is not one of its values");
    return out;
}

}  // namespace

poll_options poll_options_of(const py::dict& d) {
    poll_options p;
    p.max_retries = get<int>(d, "max_retries");
    if (auto i = get<double>(d, "retry_interval")) p.retry_interval = ms(*i);
    if (auto t = get<double>(d, "deadline")) p.deadline = ms(*t);
    if (auto m = get<double>(d, "max_interval")) p.max_interval = ms(*m);
    return p;
}

namespace {

// The Python layer gives every destination form as a list of mappings.
destinations destinations_of(const py::dict& d) {
    std::vector<service_mapping> out;
    if (!d.contains("destination")) return out;
    for (auto item : py::cast<py::list>(d["destination"])) {
        auto m = py::cast<py::dict>(item);
        service_mapping s;
        s.source = text(m, "source");
        s.target = text(m, "target");
        s.upgrade = enum_of(m, "upgrade", upgrade::minor);
        out.push_back(std::move(s));
    }
    return out;
}

json::value messages(const std::vector<job_message>& list) {
    json::array out;
    for (const auto& w : list) out.push_back(json::object{{"code", w.code}, {"message", w.message}});
    return out;
}

json::value outcomes(const std::vector<import_outcome>& list) {
    json::array out;
    for (const auto& o : list)
        out.push_back(json::object{{"source", o.source}, {"destination", o.destination}, {"status", o.status}, {"ok", o.ok},
                                   {"reason", o.reason}});
    return out;
}

// Python's logging names ("" or anything else: nothing logged).
log_level level_of(const std::string& name) {
    for (auto l : {log_level::trace, log_level::debug, log_level::info, log_level::warn, log_level::error})
        if (name == to_string(l)) return l;
    return name == "WARNING" ? log_level::warn : log_level::off;
}

}  // namespace

client_config client_config_of(const py::dict& d) {
    client_config c;
    c.base_url = text(d, "base_url");
    c.env = text(d, "env");
    c.tenant = text(d, "tenant");
    c.api_key = text(d, "api_key");
    c.bearer_token = text(d, "token");
    if (d.contains("oauth") && !d["oauth"].is_none()) {
        if (py::isinstance<py::str>(d["oauth"])) {
            c.oauth_path = py::cast<std::string>(d["oauth"]);
        } else {
            auto o = py::cast<py::dict>(d["oauth"]);
            c.oauth.client_id = text(o, "client_id");
            c.oauth.client_secret = text(o, "client_secret");
        }
    }
    if (auto t = get<double>(d, "timeout")) c.timeout = ms(*t);
    if (auto r = get<int>(d, "max_retries")) c.max_retries = *r;
    if (auto i = get<double>(d, "retry_interval")) c.retry_interval = ms(*i);
    if (auto ua = get<std::string>(d, "user_agent")) c.user_agent_suffix = *ua;
    c.log.level = level_of(text(d, "log_level"));
    return c;
}

export_request export_request_of(const py::dict& d, progress_fn progress) {
    export_request r;
    r.folders = texts(d, "folders");
    r.services = texts(d, "services");
    r.version_ids = texts(d, "version_ids");
    r.file_filter = enum_of(d, "file_filter", file_filter::migrate);
    r.version_filter = enum_of(d, "version_filter", version_filter::latest);
    r.source_system = text(d, "source_system");
    r.correlation_id = text(d, "correlation_id");
    r.poll = poll_options_of(d);
    if (auto dir = get<std::string>(d, "directory")) r.directory = *dir;
    r.overwrite = get<bool>(d, "overwrite").value_or(false);
    r.file_prefix = text(d, "file_prefix");
    r.progress = std::move(progress);
    return r;
}

import_request import_request_of(const py::dict& d, progress_fn progress) {
    import_request r;
    r.file = text(d, "file");
    r.destination = destinations_of(d);
    r.if_present = enum_of(d, "if_present", if_present::add_version);
    r.source_system = text(d, "source_system");
    r.correlation_id = text(d, "correlation_id");
    r.poll = poll_options_of(d);
    r.progress = std::move(progress);
    return r;
}

migrate_request migrate_request_of(const py::dict& d, progress_fn progress) {
    migrate_request r;
    r.exports = export_request_of(py::cast<py::dict>(d["exports"]), progress);
    r.destination = destinations_of(d);
    r.if_present = enum_of(d, "if_present", if_present::add_version);
    r.keep_files = get<bool>(d, "keep_files").value_or(false);
    return r;
}

download_options download_options_of(const py::dict& d, progress_fn progress) {
    download_options o;
    if (auto dir = get<std::string>(d, "directory")) o.directory = *dir;
    o.file_name = text(d, "file_name");
    o.expected_hash = text(d, "file_hash");
    o.overwrite = get<bool>(d, "overwrite").value_or(false);
    o.progress = std::move(progress);
    return o;
}

json::value to_json(const migration_checkpoint& c) {
    auto when = [](const std::optional<std::chrono::system_clock::time_point>& t) -> json::value {
        if (!t) return nullptr;
        return std::chrono::duration_cast<std::chrono::milliseconds>(t->time_since_epoch()).count();
    };
    return json::object{{"export_correlation_id", c.export_correlation_id}, {"export_intent_ms", when(c.export_intent)},
                        {"export_job", c.export_job}, {"package", c.package.string()},
                        {"import_correlation_id", c.import_correlation_id}, {"import_intent_ms", when(c.import_intent)},
                        {"import_job", c.import_job}};
}

migration_checkpoint checkpoint_of(const py::dict& d) {
    auto when = [&d](const char* key) -> std::optional<std::chrono::system_clock::time_point> {
        auto ms = get<std::int64_t>(d, key);
        if (!ms) return std::nullopt;
        return std::chrono::system_clock::time_point(std::chrono::milliseconds(*ms));
    };
    migration_checkpoint c;
    c.export_correlation_id = text(d, "export_correlation_id");
    c.export_intent = when("export_intent_ms");
    c.export_job = text(d, "export_job");
    c.package = text(d, "package");
    c.import_correlation_id = text(d, "import_correlation_id");
    c.import_intent = when("import_intent_ms");
    c.import_job = text(d, "import_job");
    return c;
}

json::value to_json(const diagnostics& d) {
    return json::object{{"http_status", d.http_status}, {"api_type", d.api_type}, {"api_code", d.api_code},
                        {"api_message", d.api_message}, {"request_id", d.request_id}, {"method", d.method},
                        {"url", d.url}, {"body_excerpt", d.body_excerpt}, {"detail", d.detail}, {"attempts", d.attempts},
                        {"text", d.to_string()}};
}

json::value to_json(const job_status& j) {
    json::object o;
    o["id"] = j.id;
    o["kind"] = j.kind;
    o["status"] = j.status;
    o["status_url"] = j.status_url;
    o["process_time"] = j.process_time;
    o["warnings"] = messages(j.warnings);
    // The document as the server sent it holds the files, outputs and
    // errors: they are copied out only when there is none (a job known by
    // its id alone), so a fleet's thousand results do not carry them twice.
    bool whole = j.raw.is_object() && !j.raw.as_object().empty();
    if (!whole) {
        json::array files;
        for (const auto& f : j.files) files.push_back(json::object{{"file", f.url}, {"file_hash", f.file_hash}});
        o["files"] = std::move(files);
        o["outputs"] = j.outputs;
        o["errors"] = j.errors;
    }
    // As text: Python parses it when `.data` is read (a fleet's thousand
    // results keep their documents compact until then).
    o["raw"] = whole ? json::value(json::serialize(j.raw)) : json::value(nullptr);
    return o;
}

json::value to_json(const downloaded_file& f) {
    return json::object{{"path", f.path.string()}, {"size", f.size}, {"sha256", f.sha256}, {"verified", f.verified},
                        {"resumes", f.resumes}};
}

json::value to_json(const export_result& r) {
    json::array files;
    for (const auto& f : r.files) files.push_back(to_json(f));
    return json::object{{"job", to_json(r.job)}, {"files", std::move(files)}};
}

json::value to_json(const import_result& r) {
    return json::object{{"job", to_json(r.job)}, {"services", outcomes(r.services)}, {"versions", outcomes(r.versions)},
                        {"partially_failed", r.partially_failed}};
}

json::value to_json(const migration_result& m) {
    json::array imported;
    for (const auto& i : m.imported) imported.push_back(to_json(i));
    json::object o{{"exported", to_json(m.exported)}, {"imported", std::move(imported)}, {"elapsed_ms", m.elapsed.count()}};
    o["error"] = m.ec ? json::value(std::string(error_name(m.ec))) : json::value(nullptr);
    o["message"] = m.ec ? m.ec.message() : std::string();
    o["diagnostics"] = to_json(m.diag);
    return o;
}

json::value to_json(const progress_event& e) {
    static constexpr const char* names[] = {"job_created", "status", "bytes", "retry", "finished", "failed"};
    return json::object{{"what", names[static_cast<int>(e.what)]}, {"job_kind", e.job_kind}, {"job_id", e.job_id},
                        {"status", e.status}, {"bytes", e.bytes}, {"total", e.total}, {"delay_ms", e.delay.count()},
                        {"message", e.message}, {"reason", e.reason}};
}

}  // namespace cspark::python
