// migrate_fleet for Python: the library's fleet over the clients' engines,
// with a journal of whole checkpoints a rerun resumes from.
#include "binding.hpp"

#include "core/text.hpp"

#include <boost/json/object.hpp>

#include <pybind11/stl.h>

#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <unistd.h>

namespace cspark::python {
namespace {

// An append-only file of JSON lines, each step fsynced before it goes on
// (an intent must be on disk before its POST leaves). A failed write does
// not stop the migrations; the fleet's call says so when it ends.
class journal_file {
public:
    explicit journal_file(std::string path)
        : path_(std::move(path)), fd_(::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644)) {
        if (fd_ < 0) throw py::value_error("journal: cannot open '" + path_ + "': " + std::strerror(errno));
    }
    ~journal_file() {
        if (fd_ >= 0) ::close(fd_);
    }
    journal_file(const journal_file&) = delete;
    journal_file& operator=(const journal_file&) = delete;

    void append(const std::string& lines) {
        if (!detail::write_all(fd_, lines.data(), lines.size()) || ::fdatasync(fd_) != 0)
            if (failure_.empty()) failure_ = std::strerror(errno);
    }
    /// "" while every step was written.
    std::string failure() const {
        return failure_.empty() ? "" : "writing the journal '" + path_ + "' failed: " + failure_ +
                                           " (the migrations went on; a rerun resumes from what it holds)";
    }

private:
    std::string path_;
    int fd_;
    std::string failure_;
};

asio::awaitable<void> journal_step(std::shared_ptr<journal_file> file, std::string lines) {
    file->append(lines);
    co_return;
}

struct fleet_keep {
    std::vector<std::shared_ptr<impex>> clients;  // every entry's two, alive until the fleet ends
};

}  // namespace

op_ptr migrate_fleet(const std::shared_ptr<runtime>& rt, const py::list& entries, const py::dict& options,
                     const std::string& journal) {
    auto op = std::make_shared<operation>(*rt);
    auto keep = std::make_shared<fleet_keep>();
    std::vector<fleet_entry> list;
    std::vector<std::string> names;
    for (auto item : entries) {
        auto d = py::cast<py::dict>(item);
        auto& src = py::cast<client_handle&>(d["source"]);
        auto& dst = py::cast<client_handle&>(d["target"]);
        fleet_entry e;
        e.name = py::cast<std::string>(d["name"]);
        e.source = src.api().get();
        e.target = dst.api().get();
        e.request = migrate_request_of(py::cast<py::dict>(d["request"]), {});
        if (d.contains("resume") && !d["resume"].is_none()) e.resume = checkpoint_of(py::cast<py::dict>(d["resume"]));
        keep->clients.push_back(src.api());
        keep->clients.push_back(dst.api());
        names.push_back(e.name);
        list.push_back(std::move(e));
    }
    fleet_options o;
    if (options.contains("concurrency")) o.concurrency = py::cast<std::size_t>(options["concurrency"]);
    if (options.contains("coalesce")) o.coalesce.enabled = py::cast<bool>(options["coalesce"]);
    if (options.contains("max_services")) o.coalesce.max_services = py::cast<std::size_t>(options["max_services"]);
    std::weak_ptr<operation> weak = op;
    if (options.contains("progress") && py::cast<bool>(options["progress"])) o.progress = [weak](std::size_t i, const progress_event& e) {
        auto doc = to_json(e);
        doc.as_object()["entry"] = i;
        if (auto p = weak.lock()) p->progress(json::serialize(doc));
    };
    std::shared_ptr<journal_file> file;
    if (!journal.empty()) {
        file = std::make_shared<journal_file>(journal);
        o.checkpoint = [file, names](const std::vector<std::size_t>& members, const checkpoint_event& ev) {
            std::string lines;
            auto after = to_json(ev.after);
            for (auto i : members) lines += json::serialize(json::object{{"entry", names.at(i)}, {"after", after}}) + "\n";
            return journal_step(file, std::move(lines));
        };
    }
    auto ex = rt->io().get_executor();
    start(*rt, op, [op, keep, file, ex, list = std::move(list), o = std::move(o)]() mutable {
        // Each result becomes its own text and is freed at once, and Python
        // takes the texts one by one: the run's results never exist twice
        // over (a tree or one text of them all was the run's peak memory).
        auto done = asio::bind_cancellation_slot(op->slot(), [op, keep, file](std::exception_ptr e, std::vector<migration_result> rs) {
            if (e) return fail_with(op, e);
            std::vector<std::string> texts;
            texts.reserve(rs.size());
            for (auto& r : rs) {
                texts.push_back(json::serialize(to_json(r)));
                r = {};
            }
            diagnostics d;
            if (file) d.detail = file->failure();
            op->finish_each(std::move(texts), d.detail.empty() ? error_code() : error_code(errc::file_error), d);
        });
        async_migrate_fleet(ex, std::move(list), std::move(o), std::move(done));
    });
    return op;
}

}  // namespace cspark::python
