// cspark-impex batch: many migrations from a plan, with a durable journal so a
// rerun after a crash (even kill -9) finishes the work without repeating it.
//
// Journal (JSON lines, each written and fsynced before the step it announces
// or right after the step it records):
//   {"m":NAME,"e":"export_intent","cid":C}       before POST export (C = correlation id)
//   {"m":NAME,"e":"export_job","id":J}           after POST export
//   {"m":NAME,"e":"downloaded","path":P,"sha256":H}
//   {"m":NAME,"e":"import_intent","file":P,"cid":C}  before POST import
//   {"m":NAME,"e":"import_job","id":J}
//   {"m":NAME,"e":"done","ok":true|false,"error":...}
// A rerun replays the journal: done entries are skipped, jobs are resumed by
// id, intents without a job are looked up by correlation id (describe) before
// anything is sent again, so no import happens twice.
#include "cli/cli.hpp"
#include "core/hash.hpp"
#include "core/text.hpp"
#include "impex/flows.hpp"
#include "impex/policy.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <cstdio>
#include <fcntl.h>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <unistd.h>

namespace cspark::cli {
namespace asio = boost::asio;
namespace json = boost::json;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

struct plan_entry {
    std::string name;
    connection_options source, target;
    export_request exports;
    std::vector<service_mapping> destination;
    if_present action = if_present::add_version;
};

[[noreturn]] void plan_error(const std::string& where, const std::string& what) {
    diagnostics d;
    d.detail = "plan: " + where + ": " + what;
    throw spark_error(errc::invalid_argument, d);
}

std::string str_field(const json::object& o, std::string_view key, const std::string& where, bool required = false) {
    auto* p = o.if_contains(key);
    if (!p) {
        if (required) plan_error(where, "'" + std::string(key) + "' is required");
        return {};
    }
    if (!p->is_string()) plan_error(where + "." + std::string(key), "must be a string");
    return std::string(p->get_string());
}

std::vector<std::string> list_field(const json::object& o, std::string_view key, const std::string& where) {
    std::vector<std::string> out;
    auto* p = o.if_contains(key);
    if (!p) return out;
    if (!p->is_array()) plan_error(where + "." + std::string(key), "must be an array of strings");
    for (const auto& v : p->get_array()) {
        if (!v.is_string()) plan_error(where + "." + std::string(key), "must be an array of strings");
        out.emplace_back(v.get_string());
    }
    return out;
}

connection_options endpoint(const json::value& v, const std::string& where) {
    if (!v.is_object()) plan_error(where, "must be an object {base_url | env + tenant, api_key_env | token_env | oauth_file}");
    const auto& o = v.get_object();
    for (auto secret : {"api_key", "token", "bearer_token", "client_secret", "password"})
        if (o.contains(secret))
            plan_error(where + "." + secret, "secrets are not allowed in plans: name the variable (api_key_env, token_env) or file (oauth_file) that holds it");
    connection_options c;
    c.base_url = str_field(o, "base_url", where);
    c.env = str_field(o, "env", where);
    c.tenant = str_field(o, "tenant", where);
    c.api_key_env = str_field(o, "api_key_env", where);
    c.token_env = str_field(o, "token_env", where);
    c.oauth_file = str_field(o, "oauth_file", where);
    if (c.base_url.empty() && (c.env.empty() || c.tenant.empty()))
        plan_error(where, "needs base_url, or env and tenant");
    std::string why;
    error_code ec;
    if (!parse_base_url(c.base_url, c.tenant, c.env, ec, &why)) plan_error(where, why);
    return c;
}

std::vector<plan_entry> load_plan(const std::string& path, const connection_options& defaults) {
    std::ifstream in(path);
    if (!in) plan_error(path, "cannot be read");
    std::stringstream ss;
    ss << in.rdbuf();
    error_code jec;
    json::value doc = json::parse(ss.str(), jec);
    if (jec || !doc.is_object()) plan_error(path, "is not a JSON object with \"migrations\"");
    auto* list = doc.get_object().if_contains("migrations");
    if (!list || !list->is_array()) plan_error("migrations", "must be an array");
    std::vector<plan_entry> out;
    std::set<std::string> names;
    for (std::size_t i = 0; i < list->get_array().size(); ++i) {
        std::string w = "migrations[" + std::to_string(i) + "]";
        const auto& item = list->get_array()[i];
        if (!item.is_object()) plan_error(w, "must be an object");
        const auto& o = item.get_object();
        plan_entry e;
        e.name = str_field(o, "name", w, true);
        if (e.name.empty() || !names.insert(e.name).second) plan_error(w + ".name", "'" + e.name + "' is empty or not unique");
        if (!o.contains("source")) plan_error(w, "'source' is required");
        if (!o.contains("target")) plan_error(w, "'target' is required");
        e.source = endpoint(o.at("source"), w + ".source");
        e.target = endpoint(o.at("target"), w + ".target");
        for (auto* c : {&e.source, &e.target}) {
            c->timeout_ms = defaults.timeout_ms;
            c->max_retries = defaults.max_retries;
            c->retry_interval_ms = defaults.retry_interval_ms;
            c->ca_file = defaults.ca_file;
            c->insecure = defaults.insecure;
        }
        json::object ex = o.contains("export") && o.at("export").is_object() ? o.at("export").get_object() : json::object{};
        if (o.contains("export") && !o.at("export").is_object()) plan_error(w + ".export", "must be an object");
        e.exports.services = list_field(ex, "services", w + ".export");
        e.exports.folders = list_field(ex, "folders", w + ".export");
        e.exports.version_ids = list_field(ex, "version_ids", w + ".export");
        if (e.exports.services.empty() && e.exports.folders.empty() && e.exports.version_ids.empty())
            plan_error(w + ".export", "needs services, folders or version_ids");
        std::string why;
        for (const auto& s : e.exports.services)
            if (!parse_service_uri(s, why)) plan_error(w + ".export.services", why);
        auto vf = str_field(ex, "version_filter", w + ".export");
        if (!vf.empty() && vf != "latest" && vf != "all") plan_error(w + ".export.version_filter", "must be latest or all");
        e.exports.version_filter = vf == "all" ? version_filter::all : version_filter::latest;
        auto ff = str_field(ex, "file_filter", w + ".export");
        if (!ff.empty() && ff != "migrate" && ff != "onpremises") plan_error(w + ".export.file_filter", "must be migrate or onpremises");
        e.exports.file_filter = ff == "onpremises" ? file_filter::onpremises : file_filter::migrate;
        for (const auto& d : list_field(o, "destination", w)) {
            auto m = parse_destination(d, why);
            if (!m) plan_error(w + ".destination", why);
            e.destination.push_back(*m);
        }
        if (e.destination.empty() && e.exports.services.empty())
            plan_error(w + ".destination", "is required when the export names folders or version ids only");
        auto ip = str_field(o, "if_present", w);
        if (!ip.empty() && ip != "abort" && ip != "replace" && ip != "add_version")
            plan_error(w + ".if_present", "must be abort, replace or add_version");
        e.action = ip == "abort" ? if_present::abort : ip == "replace" ? if_present::replace : if_present::add_version;
        out.push_back(std::move(e));
    }
    return out;
}

// What the journal says about one migration.
struct progress_state {
    std::string export_cid, export_job, path, sha256, import_cid, import_file, import_job;
    std::int64_t export_t = 0, import_t = 0;  ///< wall time of the intent (ms since the epoch; 0 = unknown)
    std::optional<bool> done;
};

std::int64_t wall_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

class journal {
public:
    explicit journal(const std::string& path) : path_(path) {
        std::ifstream in(path);
        for (std::string line; std::getline(in, line);) {
            error_code ec;
            auto v = json::parse(line, ec);
            if (ec || !v.is_object()) continue;  // a torn last line from a crash
            apply(v.get_object());
        }
        fd_ = ::open(path.c_str(), O_CREAT | O_WRONLY | O_APPEND | O_CLOEXEC, 0600);
        if (fd_ < 0) plan_error(path, "the journal cannot be opened for writing");
    }
    ~journal() {
        if (fd_ >= 0) ::close(fd_);
    }
    progress_state& state(const std::string& name) { return states_[name]; }
    const std::map<std::string, progress_state>& states() const { return states_; }

    /// Appends and fsyncs one record (then applies it to the state).
    void record(json::object rec) {
        std::string line = json::serialize(rec) + "\n";
        if (!detail::write_all(fd_, line.data(), line.size()) || ::fsync(fd_) != 0)
            plan_error(path_, "writing the journal failed");
        apply(rec);
    }

private:
    void apply(const json::object& r) {
        auto s = [&](std::string_view k) { return r.contains(k) && r.at(k).is_string() ? std::string(r.at(k).as_string()) : std::string(); };
        auto t = [&] { return r.contains("t") && r.at("t").is_int64() ? r.at("t").as_int64() : std::int64_t(0); };
        auto& st = states_[s("m")];
        auto e = s("e");
        if (e == "export_intent") {
            st = progress_state{};
            st.export_cid = s("cid");
            st.export_t = t();
        } else if (e == "export_job") {
            st.export_job = s("id");
        } else if (e == "downloaded") {
            st.path = s("path");
            st.sha256 = s("sha256");
        } else if (e == "import_intent") {
            st.import_cid = s("cid");
            st.import_file = s("file");
            st.import_t = t();
        } else if (e == "import_job") {
            st.import_job = s("id");
        } else if (e == "done") {
            st.done = r.contains("ok") && r.at("ok").is_bool() && r.at("ok").as_bool();
        }
    }
    std::string path_;
    int fd_ = -1;
    std::map<std::string, progress_state> states_;
};

std::uint64_t fnv1a(std::string_view s) {
    std::uint64_t h = 1469598103934665603ull;
    for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
    return h;
}

std::string sha256_of(const std::filesystem::path& p) {
    error_code ec;
    auto src = make_file_source(p, ec);
    if (!src) return {};
    detail::hasher h;
    std::vector<char> buf(256 * 1024);
    for (std::size_t n; (n = src->read(std::span<char>(buf.data(), buf.size()), ec)) > 0;) h.update(std::span<const char>(buf.data(), n));
    return ec ? std::string() : h.hex_digest();
}

struct batch_ctx {
    journal& j;
    detail::gates& gates;
    const output& out;
    std::filesystem::path dir;
    std::size_t done = 0, failed = 0, unknown = 0, total = 0;
};

// When a POST announced by an intent at `t_ms` (wall time) began, on the
// client's timer; an unknown time puts it an hour back (describe's window).
clock_type::time_point intent_began(client& c, std::int64_t t_ms) {
    auto since = t_ms > 0 ? std::chrono::milliseconds(std::max<std::int64_t>(0, wall_ms() - t_ms)) : std::chrono::milliseconds(std::chrono::hours(1));
    return c.timer()->now() - since;
}

// One migration, resumed from whatever the journal holds.
asio::awaitable<void> run_entry(batch_ctx& ctx, plan_entry& e, impex& src, impex& dst) {
    co_await asio::this_coro::throw_if_cancelled(false);
    auto& st = ctx.j.state(e.name);
    // Only an outcome that is known is written: a job whose state could not
    // be learned, an upload that may have made a job, or a cancelled step
    // leave the journal as it is, so a rerun resumes (never imports twice).
    auto finish = [&](error_code ec, const std::string& error) {
        if (ec && !detail::outcome_is_final(ec)) {
            if (ec != errc::cancelled) {
                ++ctx.unknown;
                ctx.out.info(e.name + ": OUTCOME UNKNOWN (rerun to resume): " + error);
            }
            return;
        }
        json::object rec{{"m", e.name}, {"e", "done"}, {"ok", !ec}};
        if (ec) rec["error"] = error;
        if (ec) rec["code"] = ec.message();
        ctx.j.record(std::move(rec));
        ec ? ++ctx.failed : ++ctx.done;
        ctx.out.info(e.name + ": " + (ec ? "FAILED: " + error : std::string("done")));
    };
    static thread_local std::mt19937_64 rng{std::random_device{}()};
    poll_options poll{.retry_interval = e.exports.retry_interval, .deadline = e.exports.poll_deadline};

    // ---- export (resumed by job id, or found by correlation id)
    bool have_file = !st.path.empty() && std::filesystem::exists(st.path) && sha256_of(st.path) == st.sha256;
    if (!have_file && st.import_job.empty()) {
        std::string src_key = "export " + src.get_client().url().to_string();
        if (!co_await ctx.gates.acquire(src_key)) co_return;
        detail::gate_lease release{ctx.gates, src_key};
        if (st.export_job.empty() && !st.export_cid.empty()) {
            auto found = co_await detail::search_job(src.get_client(), "export", st.export_cid,
                                                     intent_began(src.get_client(), st.export_t), std::nullopt, {});
            if (found.verdict == detail::job_search::what::found)
                ctx.j.record({{"m", e.name}, {"e", "export_job"}, {"id", found.job.id}});
        }
        if (st.export_job.empty()) {  // a new export (a stray earlier one only reads)
            std::string cid = "cspark-batch-" + detail::uuid4(rng);
            ctx.j.record({{"m", e.name}, {"e", "export_intent"}, {"cid", cid}, {"t", wall_ms()}});
            auto req = e.exports;
            req.correlation_id = cid;
            auto [ec, job] = co_await src.exports.initiate(req, use_tuple);
            if (ec) {
                finish(ec, "export: " + ec.message() + " " + job.diag.to_string());
                co_return;
            }
            ctx.j.record({{"m", e.name}, {"e", "export_job"}, {"id", job.id}});
        }
        auto [sec, done] = co_await src.exports.get_status(st.export_job, poll, true, use_tuple);
        if (sec) {
            finish(sec, "export job " + st.export_job + ": " + sec.message() + " " + done.diag.to_string());
            co_return;
        }
        if (done.files.empty()) {
            finish(errc::no_files, "export job " + st.export_job + " produced no file");
            co_return;
        }
        download_options opt;
        opt.directory = ctx.dir;
        opt.file_name = e.name + "-" + st.export_job.substr(0, 8) + ".zip";
        opt.overwrite = true;  // the batch's own package directory: a file there is ours, from an earlier run
        auto [dec, file] = co_await src.exports.download(done.files[0], opt, use_tuple);
        if (dec) {
            finish(dec, "download: " + dec.message() + " " + file.diag.to_string());
            co_return;
        }
        if (!file.verified) ctx.out.info(e.name + ": package not verified by the server (no file_hash); its ZIP structure and CRCs were checked");
        ctx.j.record({{"m", e.name}, {"e", "downloaded"}, {"path", file.path.string()}, {"sha256", file.sha256}});
    }

    // ---- import (resumed by job id, or found by correlation id: never twice)
    std::string dst_key = "import " + dst.get_client().url().to_string();
    if (!co_await ctx.gates.acquire(dst_key)) co_return;
    detail::gate_lease release{ctx.gates, dst_key};
    import_request ir;
    ir.file = st.path;
    ir.if_present = e.action;
    ir.retry_interval = e.exports.retry_interval;
    ir.poll_deadline = e.exports.poll_deadline;
    if (e.destination.empty()) ir.destination = e.exports.services;  // every exported service to itself
    else ir.destination = e.destination;
    if (st.import_job.empty() && !st.import_cid.empty()) {
        error_code mec;
        std::string why;
        auto sent = services_modify(ir.destination, mec, why);
        auto found = co_await detail::search_job(dst.get_client(), "import", st.import_cid,
                                                 intent_began(dst.get_client(), st.import_t), sent, poll);
        if (found.verdict == detail::job_search::what::found) {
            ctx.j.record({{"m", e.name}, {"e", "import_job"}, {"id", found.job.id}});
        } else if (found.verdict == detail::job_search::what::unknown) {
            finish(found.ec == errc::cancelled ? found.ec : error_code(errc::import_outcome_unknown),
                   "import: an upload (correlation id " + st.import_cid + ") may have created a job that cannot be told apart: " +
                       found.detail + (found.candidates.empty() ? "" : "; candidates: " + detail::joined(found.candidates)));
            co_return;
        }
    }
    if (st.import_job.empty()) {
        std::string cid = st.import_cid.empty() ? "cspark-batch-" + detail::uuid4(rng) : st.import_cid;
        if (st.import_cid.empty()) ctx.j.record({{"m", e.name}, {"e", "import_intent"}, {"file", st.path}, {"cid", cid}, {"t", wall_ms()}});
        ir.correlation_id = cid;
        auto [iec, job] = co_await dst.imports.initiate(ir, use_tuple);
        if (iec) {
            finish(iec, "import: " + iec.message() + " " + job.diag.to_string());
            co_return;
        }
        ctx.j.record({{"m", e.name}, {"e", "import_job"}, {"id", job.id}});
    }
    auto [pec, imported] = co_await dst.imports.get_status(st.import_job, poll, true, use_tuple);
    if (pec) {
        finish(pec, "import job " + st.import_job + ": " + pec.message() + " " + imported.diag.to_string());
        co_return;
    }
    std::error_code ignored;
    std::filesystem::remove(st.path, ignored);
    finish({}, {});
}

}  // namespace

int batch(const std::string& plan_path, const std::string& journal_path, std::size_t concurrency, const std::string& shard,
          const connection_options& defaults, std::chrono::milliseconds poll_timeout, const output& out) {
    std::vector<plan_entry> plan;
    std::size_t shard_k = 0, shard_n = 1;
    try {
        if (!shard.empty() && !parse_shard(shard, shard_k, shard_n)) {
            out.error("--shard '" + shard + "' must be K/N with whole numbers 0 <= K < N");
            return usage;
        }
        plan = load_plan(plan_path, defaults);
    } catch (const spark_error& e) {
        out.error(e.diag().detail);
        out.result(error_json(e.code(), e.diag()));
        return usage;
    }
    std::erase_if(plan, [&](const plan_entry& e) { return fnv1a(e.name) % shard_n != shard_k; });

    asio::io_context io(1);
    auto tr = std::make_shared<transport>(io.get_executor(), transport_config{});
    std::map<std::string, std::unique_ptr<impex>> apis;  // one client per tenant
    auto api = [&](const connection_options& c) -> impex& {
        auto cfg = to_config(c);
        cfg.shared_transport = tr;
        cfg.log = out.log();
        // Everything that makes two clients differ: an entry naming other
        // credentials for the same tenant must not borrow the first one's.
        auto key = c.base_url + "|" + c.env + "|" + c.tenant + "|" + c.api_key_env + "|" + c.token_env + "|" + c.oauth_file;
        auto& slot = apis[key];
        if (!slot) slot = std::make_unique<impex>(client(io.get_executor(), cfg));
        return *slot;
    };
    std::unique_ptr<journal> j;
    try {
        j = std::make_unique<journal>(journal_path);
        for (auto& e : plan) {
            api(e.source);
            api(e.target);
            e.exports.retry_interval = std::chrono::milliseconds(defaults.retry_interval_ms);
            e.exports.poll_deadline = poll_timeout;
        }
    } catch (const spark_error& e) {
        out.error(e.diag().detail.empty() ? e.what() : e.diag().detail);
        return usage;
    }
    detail::gates gates(io.get_executor());
    auto dir = std::filesystem::path(journal_path).parent_path() / (std::filesystem::path(journal_path).filename().string() + ".packages");
    std::filesystem::create_directories(dir);
    batch_ctx ctx{*j, gates, out, dir};
    ctx.total = plan.size();

    std::vector<plan_entry*> todo;
    std::size_t skipped = 0;
    for (auto& e : plan) {
        auto& st = j->state(e.name);
        if (st.done && *st.done) ++skipped;
        else {
            if (st.done) st = progress_state{};  // failed before: start again
            todo.push_back(&e);
        }
    }
    if (skipped) out.info(std::to_string(skipped) + " migrations already done (journal): skipped");
    std::size_t next = 0, running = 0;
    bool all_done = todo.empty();
    std::vector<std::shared_ptr<asio::cancellation_signal>> signals;
    std::function<void()> launch_more;
    launch_more = [&] {
        while (running < std::max<std::size_t>(concurrency, 1) && next < todo.size()) {
            auto* e = todo[next++];
            ++running;
            auto sig = std::make_shared<asio::cancellation_signal>();
            signals.push_back(sig);
            auto on_done = [&](std::exception_ptr ex) {
                if (ex) {
                    try {
                        std::rethrow_exception(ex);
                    } catch (const std::exception& x) {
                        out.error(std::string("batch: ") + x.what());
                    }
                }
                --running;
                launch_more();
                if (running == 0 && next >= todo.size()) all_done = true;
            };
            asio::co_spawn(io, run_entry(ctx, *e, api(e->source), api(e->target)),
                           asio::bind_cancellation_slot(sig->slot(), std::move(on_done)));
        }
    };
    bool completed = run_interruptible(
        io,
        [&](asio::cancellation_slot slot) {
            slot.assign([&](asio::cancellation_type t) {
                for (auto& sig : signals) sig->emit(t);
            });
            launch_more();
        },
        [&] { return all_done; });
    std::size_t done_total = skipped + ctx.done;
    out.result(json::object{{"migrations", plan.size()}, {"done", done_total}, {"failed", ctx.failed},
                            {"unknown", ctx.unknown}, {"skipped", skipped}, {"interrupted", !completed}});
    if (!out.json)
        std::printf("batch: %zu migrations, %zu done (%zu from the journal), %zu failed, %zu unknown%s\n", plan.size(),
                    done_total, skipped, ctx.failed, ctx.unknown,
                    completed ? (ctx.unknown ? " (rerun the same command to resume them)" : "") : ", interrupted");
    if (!completed) return interrupted;
    return ctx.failed ? failed : ctx.unknown ? unknown : ok;
}

int report(const std::vector<std::string>& journals, const output& out) {
    std::map<std::string, std::string> final_state;
    for (const auto& path : journals) {
        std::ifstream in(path);
        if (!in) {
            out.error("report: cannot read journal '" + path + "'");
            return usage;
        }
        for (std::string line; std::getline(in, line);) {
            error_code ec;
            auto v = json::parse(line, ec);
            if (ec || !v.is_object() || !v.get_object().contains("m")) continue;
            std::string m(v.at("m").as_string());
            std::string e = v.get_object().contains("e") ? std::string(v.at("e").as_string()) : "";
            if (e == "done") final_state[m] = v.at("ok").as_bool() ? "done" : "failed";
            else if (final_state[m] != "done") final_state[m] = "in progress (" + e + ")";
        }
    }
    std::size_t done = 0, failed_n = 0, pending = 0;
    json::object per;
    for (const auto& [m, s] : final_state) {
        per[m] = s;
        if (s == "done") ++done;
        else if (s == "failed") ++failed_n;
        else ++pending;
    }
    out.result(json::object{{"migrations", final_state.size()}, {"done", done}, {"failed", failed_n}, {"pending", pending},
                            {"states", per}});
    if (!out.json) {
        std::printf("report: %zu migrations: %zu done, %zu failed, %zu pending\n", final_state.size(), done, failed_n, pending);
        for (const auto& [m, s] : final_state)
            if (s != "done") std::printf("  %s: %s\n", m.c_str(), s.c_str());
    }
    return failed_n || pending ? failed : ok;
}

}  // namespace cspark::cli
