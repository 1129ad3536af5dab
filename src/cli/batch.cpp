// cspark-impex batch: many migrations from a plan, with a durable journal so a
// rerun after a crash (even kill -9) finishes the work without repeating it.
//
// The journal (JSON lines) and its records: journal_record.hpp. An intent is
// durable before the POST it announces; records arriving during an fsync
// share the next one.
// batch = load the plan, replay the journal into checkpoints, run the
// library's migrate_fleet with the journal as its checkpoint observer: jobs
// resume by id, intents without a job are looked up (describe) before
// anything is sent again, so no import happens twice.
#include "cli/cli.hpp"
#include "cli/descriptors.hpp"
#include "cli/journal.hpp"
#include "cli/metrics_file.hpp"
#include "cli/plan.hpp"
#include "core/hash.hpp"
#include "core/proxy.hpp"
#include "core/text.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <unistd.h>

namespace cspark::cli {
namespace json = boost::json;
namespace asio = boost::asio;

namespace {

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

}  // namespace

namespace {

// One client per distinct tenant and credentials, over one shared transport:
// an entry naming other credentials for the same tenant never borrows the
// first one's.
class client_cache {
public:
    client_cache(asio::io_context& io, const output& out, const transport_config& tc)
        : io_(io), out_(out), tr_(std::make_shared<transport>(io.get_executor(), tc)) {}
    impex& get(const connection_options& c) {
        auto key = c.base_url + "|" + c.env + "|" + c.tenant + "|" + c.api_key_env + "|" + c.token_env + "|" + c.oauth_file;
        auto& slot = apis_[key];
        if (!slot) {
            auto cfg = to_config(c);
            cfg.shared_transport = tr_;
            cfg.log = out_.log();
            cfg.trace = out_.trace;
            slot = std::make_unique<impex>(client(io_.get_executor(), cfg));
        }
        return *slot;
    }

private:
    asio::io_context& io_;
    const output& out_;
    std::shared_ptr<transport> tr_;
    std::map<std::string, std::unique_ptr<impex>> apis_;
};

fleet_entry entry_of(const plan_entry& e, client_cache& apis, const progress_state& st, const std::filesystem::path& dir) {
    fleet_entry f;
    f.name = e.name;
    f.source = &apis.get(e.source);
    f.target = &apis.get(e.target);
    f.request.exports = e.exports;
    f.request.exports.directory = dir;
    f.request.exports.durable = false;  // a rerun checks the package's SHA-256 before using it: no fsync needed
    f.request.exports.overwrite = true;  // the batch's own package directory: a file there is ours, from an earlier run
    f.request.exports.file_prefix = e.name;
    // No destination: every exported service to itself (named when the entry
    // names services, so a combined job tells whose each outcome is).
    if (e.destination.empty()) f.request.destination = e.exports.services;
    else f.request.destination = e.destination;
    f.request.if_present = e.action;
    f.request.keep_files = true;  // removed here once the outcome is known (a rerun may need it)
    bool have_file = !st.path.empty() && std::filesystem::exists(st.path) && sha256_of(st.path) == st.sha256;
    f.resume = checkpoint_of(st, have_file);
    return f;
}

struct tally {
    std::size_t done = 0, failed = 0, unknown = 0;
};

// A migration ended: a known outcome is journaled (its package removed); an
// unknown one is left open for the next run to resume.
void finish(journal& j, const output& out, tally& t, const std::string& name, const migration_result& m) {
    if (m.ec && !outcome_known(m.ec)) {
        if (m.ec != errc::cancelled) {
            ++t.unknown;
            out.info(name + ": OUTCOME UNKNOWN (rerun to resume): " + m.diag.to_string());
            j.append(outcome_record(name, m, {}));  // for the report: a rerun still resumes it from its steps
        }
        return;
    }
    auto warnings = warning_lines(m);
    for (const auto& line : warnings) out.error(name + ": warning: " + line);
    auto rec = outcome_record(name, m, warnings);
    std::error_code ignored;
    if (auto package = j.state(name).path; !package.empty()) std::filesystem::remove(package, ignored);
    for (const auto& f : m.exported.files) std::filesystem::remove(f.path, ignored);
    j.append(std::move(rec));
    m.ec ? ++t.failed : ++t.done;
    out.info(name + ": " + (m.ec ? "FAILED: " + m.ec.message() + " " + m.diag.to_string() : std::string("done")));
}

// Runs the library's fleet over the entries with the journal as its
// checkpoint observer, Ctrl-C cancelling; false when interrupted.
bool run_plan(asio::io_context& io, std::vector<fleet_entry> entries, journal& j, const batch_options& bo,
               const output& out, tally& t, std::shared_ptr<fleet_monitor> monitor) {
    std::vector<std::string> names;
    std::vector<std::pair<const impex*, const impex*>> tenants;
    for (const auto& e : entries) {
        names.push_back(e.name);
        tenants.emplace_back(e.source, e.target);
    }
    fleet_options opts;
    opts.monitor = std::move(monitor);
    opts.concurrency = std::max<std::size_t>(bo.concurrency, 1);
    opts.coalesce.enabled = bo.coalesce;
    opts.coalesce.max_services = std::max<std::size_t>(bo.max_services, 1);
    opts.checkpoint = [&](const std::vector<std::size_t>& members, const checkpoint_event& ev) -> asio::awaitable<void> {
        json::value who;
        if (members.size() == 1) {
            who = json::string(names[members.front()]);
        } else {
            json::array list;
            for (auto i : members) list.push_back(json::string(names[i]));
            who = std::move(list);
        }
        const auto& [source, target] = tenants[members.front()];
        bool intent = ev.what == checkpoint_event::kind::export_intent || ev.what == checkpoint_event::kind::import_intent;
        // Only intents name the tenants: no copies of them for the other steps.
        auto tenant = [intent](const impex* api) { return intent && api ? api->get_client().url().tenant : std::string(); };
        auto rec = step_record(who, ev, j.state(names[members.front()]), tenant(source), tenant(target));
        // An intent is durable before the POST it announces; a job id or a
        // package rides with the next fsync (a crash before it is resumed by
        // the intent's correlation id, or the package's hash is checked again).
        if (intent) co_await j.record(std::move(rec));
        else j.append(std::move(rec));
    };
    opts.finished = [&](std::size_t i, const migration_result& m) { finish(j, out, t, names[i], m); };
    if (entries.empty()) return true;
    auto got = interruptible(io, migrate_fleet(std::move(entries), opts));
    if (got.failure) {
        try {
            std::rethrow_exception(got.failure);
        } catch (const std::exception& x) {
            out.error(std::string("batch: ") + x.what());
        }
    }
    return !got.interrupted;
}

}  // namespace

namespace {

// The plan, this shard's share of it, and its credentials checked: nullopt
// (said on stderr and in the result) when any of it is wrong.
std::optional<std::vector<plan_entry>> load_share(const std::string& plan_path, const std::string& shard,
                                                  const connection_options& defaults, const output& out) {
    std::vector<plan_entry> plan;
    std::size_t shard_k = 0, shard_n = 1;
    bool loaded = false;
    try {
        const char* job_index = std::getenv("JOB_COMPLETION_INDEX");
        if (!shard.empty() && !parse_shard(shard, shard_k, shard_n, job_index)) {
            if (shard.front() == '/')
                out.error("--shard '" + shard + "' takes K from JOB_COMPLETION_INDEX, which is " +
                          (job_index ? "'" + std::string(job_index) + "'" : std::string("not set")) + ": it must be a whole number below N");
            else
                out.error("--shard '" + shard + "' must be K/N with whole numbers 0 <= K < N (or /N with JOB_COMPLETION_INDEX set)");
            return std::nullopt;
        }
        plan = load_plan(plan_path, defaults);
        loaded = true;
        std::erase_if(plan, [&](const plan_entry& e) { return fnv1a(e.name) % shard_n != shard_k; });
        check_credentials(plan);  // the entries this run sends: said before the first request
    } catch (const spark_error& e) {
        out.error(loaded ? "batch: " + e.diag().detail : e.diag().detail);
        out.result(error_json(e.code(), e.diag()));
        return std::nullopt;
    }
    return plan;
}

// Replay: finished entries are skipped, the rest resume where the journal says.
std::vector<fleet_entry> entries_to_run(std::vector<plan_entry>& plan, journal& j, client_cache& apis,
                                        const std::filesystem::path& dir, const output& out, std::size_t& skipped) {
    std::vector<fleet_entry> entries;
    for (auto& e : plan) {
        auto& st = j.state(e.name);
        if (st.done && (*st.done || st.imported)) {
            // Done; or failed after its import happened (a service failed in
            // it): not imported again, the failure stands in the journal.
            if (!*st.done) out.info(e.name + ": its import failed in part earlier and is not sent again (see the journal)");
            ++skipped;
            continue;
        }
        if (st.done) st = progress_state{};  // failed before: start again
        entries.push_back(entry_of(e, apis, st, dir));
    }
    if (skipped) out.info(std::to_string(skipped) + " migrations already done (journal): skipped");
    return entries;
}

// The run's closing line and result document; the exit code.
int conclude(const output& out, std::size_t planned, std::size_t skipped, const tally& t, bool completed, const journal& j,
             const fleet_metrics& m) {
    std::size_t done_total = skipped + t.done;
    out.result(json::object{{"migrations", planned}, {"done", done_total}, {"failed", t.failed},
                            {"unknown", t.unknown}, {"skipped", skipped}, {"interrupted", !completed},
                            {"journal_fsyncs", j.fsyncs()}, {"export_jobs", m.export_jobs}, {"import_jobs", m.import_jobs},
                            {"retries", m.retries_total()}, {"bytes_downloaded", m.bytes_downloaded}});
    if (!out.json)
        std::printf("batch: %zu migrations, %zu done (%zu from the journal), %zu failed, %zu unknown%s\n", planned,
                    done_total, skipped, t.failed, t.unknown,
                    completed ? (t.unknown ? " (rerun the same command to resume them)" : "") : ", interrupted");
    if (!completed) return interrupted;
    return t.failed ? failed : t.unknown ? unknown : ok;
}

}  // namespace

int batch(const std::string& plan_path, const std::string& journal_path, const batch_options& bo, const std::string& shard,
          const connection_options& defaults, std::chrono::milliseconds poll_timeout, const output& out) {
    auto share = load_share(plan_path, shard, defaults, out);
    if (!share) return usage;
    auto& plan = *share;
    // The descriptor check comes before the reactor, the journal and its
    // writer thread: too few descriptors end the run before a thread starts
    // (a g++ UBSan runtime starting one at EMFILE drew a false report).
    batch_options run = bo;
    transport_config tc;
    if (defaults.proxy) tc.proxy = detail::one_proxy(*defaults.proxy, true);
    if (!fit_to_descriptors(plan, run, tc, out)) return usage;
    asio::io_context io(1);
    std::unique_ptr<journal> j;
    client_cache apis(io, out, tc);
    try {
        j = std::make_unique<journal>(journal_path, io.get_executor());
        for (auto& e : plan) {
            apis.get(e.source);
            apis.get(e.target);
            e.exports.poll.retry_interval = std::chrono::milliseconds(defaults.retry_interval_ms);
            e.exports.poll.deadline = poll_timeout;
        }
    } catch (const spark_error& e) {
        out.error(e.diag().detail.empty() ? e.what() : e.diag().detail);
        return usage;
    }
    auto dir = std::filesystem::path(journal_path).parent_path() / (std::filesystem::path(journal_path).filename().string() + ".packages");
    std::filesystem::create_directories(dir);
    std::size_t skipped = 0;
    auto entries = entries_to_run(plan, *j, apis, dir, out, skipped);
    tally t;
    auto monitor = std::make_shared<fleet_monitor>();
    metrics_file metrics(io, bo.metrics_path, monitor, skipped, out);
    j->append(run_record(entries.size()));
    metrics.start();
    bool completed = run_plan(io, std::move(entries), *j, run, out, t, monitor);
    metrics.stop();
    auto m = monitor->snapshot();
    j->append(run_end_record(m.retries_total(), m.bytes_downloaded, m.bytes_uploaded));
    j->flush();
    if (j->failed()) {
        out.error("batch: writing the journal '" + journal_path + "' failed: " + std::strerror(errno) + " (rerun to resume)");
        return failed;
    }
    return conclude(out, plan.size(), skipped, t, completed, *j, m);
}

}  // namespace cspark::cli
