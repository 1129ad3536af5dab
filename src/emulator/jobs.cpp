// The emulator's job routes: export and import jobs, describe.
#include "emulator/impl.hpp"

#include <boost/asio/post.hpp>

namespace cspark {
namespace asio = boost::asio;
namespace json = boost::json;

server::response_plan emulator::impl::export_create(const server::request_head& h, emu::tenant& t,
                                                    const std::string& body,
                                                    const std::vector<const emu::fault_rule*>& fired) {
    error_code json_ec;
    json::value req = json::parse(body, json_ec);
    if (json_ec || !req.is_object()) return error_reply(400, "INVALID_REQUEST", "request body must be a JSON object");
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
    j.download_token = detail::uuid4(rng);
    j.store_token = store_token();
    store_tokens[j.store_token] = j.id;
    build_package(j, std::move(*selected), file_filter);
    return json_reply(200, status_json(j, h));
}

namespace {
using built_package = std::optional<emu::package_result>;  // none: the build failed

built_package build(const std::filesystem::path& file, const std::string& tenant,
                    const std::vector<emu::selected_version>& versions, const std::string& file_filter,
                    std::uint64_t payload_bytes) {
    try {
        return {emu::write_package(file, tenant, versions, file_filter, payload_bytes)};
    } catch (const std::exception&) {
        return {};
    }
}

void take(job& j, built_package b) {
    if (!b) {
        j.fail = true;  // surfaces as a failed job, as Spark reports export problems
        return;
    }
    j.file_hash = b->sha256;
    j.file_size = b->size;
    j.services = std::move(b->services);
    j.service_versions = std::move(b->service_versions);
}
}  // namespace

// Small packages are built at once (mu is held). A large one is built on the
// builder thread without mu, so every other request is answered meanwhile;
// the result comes back through the server's executor.
void emulator::impl::build_package(job& j, std::vector<emu::selected_version> versions, std::string file_filter) {
    std::uint64_t payload = cfg.package_bytes * versions.size();
    if (payload <= cfg.inline_package_bytes) {
        take(j, build(j.file, j.tenant, versions, file_filter, cfg.package_bytes));
        return;
    }
    j.building = true;
    std::weak_ptr<impl> weak = shared_from_this();
    builder.post([weak, ex = ex, id = j.id, file = j.file, tenant = j.tenant, versions = std::move(versions),
                  file_filter = std::move(file_filter), bytes = cfg.package_bytes] {
        auto made = std::make_shared<built_package>(build(file, tenant, versions, file_filter, bytes));
        asio::post(ex, [weak, id, made] {
            auto self = weak.lock();
            if (!self) return;
            std::lock_guard lock(self->mu);
            auto& jb = self->jobs.at(id);
            take(jb, std::move(*made));
            jb.building = false;
            jb.built = self->now();
        });
    });
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
    error_code json_ec;
    json::value entity = json::parse(sink->entity(), json_ec);
    if (json_ec || !entity.is_object()) return error_reply(400, "INVALID_REQUEST", "importRequestEntity is not a JSON object");
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
    auto pkg = sink->in_memory() ? emu::read_package_bytes(std::move(sink->bytes()), err) : emu::read_package(path, err);
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

}  // namespace cspark
