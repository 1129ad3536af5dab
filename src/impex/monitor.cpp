#include "impex/monitor.hpp"

#include <cspark/fleet.hpp>

#include <cmath>
#include <cstdio>

namespace cspark {

void duration_histogram::observe(std::chrono::milliseconds d) noexcept {
    double s = std::max<double>(0, static_cast<double>(d.count()) / 1000.0);
    std::size_t b = 0;
    while (b < bounds.size() && s > bounds[b]) ++b;
    ++counts[b];
    sum_seconds += s;
    ++count;
}

std::uint64_t fleet_metrics::retries_total() const noexcept {
    std::uint64_t n = 0;
    for (const auto& [reason, count] : retries) n += count;
    return n;
}

namespace {

// A label value as the text format wants it: \\, \" and \n escaped.
std::string label(std::string_view v) {
    std::string out;
    for (char c : v) {
        if (c == '\\' || c == '"') out += '\\';
        if (c == '\n') {
            out += "\\n";
            continue;
        }
        out += c;
    }
    return out;
}

std::string number(double v) {
    if (std::isinf(v)) return "+Inf";
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.17g", v);
    return buf;
}

class writer {
public:
    explicit writer(std::string_view prefix) : prefix_(prefix) {}
    void family(std::string_view name, std::string_view type, std::string_view help) {
        name_ = prefix_ + std::string(name);
        out_ += "# HELP " + name_ + " " + std::string(help) + "\n# TYPE " + name_ + " " + std::string(type) + "\n";
    }
    void sample(std::string_view suffix, std::string_view labels, double value) {
        out_ += name_ + std::string(suffix);
        if (!labels.empty()) out_ += "{" + std::string(labels) + "}";
        out_ += " " + number(value) + "\n";
    }
    void histogram(std::string_view labels, const duration_histogram& h) {
        std::uint64_t cumulative = 0;
        std::string sep = labels.empty() ? "" : ",";
        for (std::size_t b = 0; b < h.counts.size(); ++b) {
            cumulative += h.counts[b];
            double le = b < h.bounds.size() ? h.bounds[b] : INFINITY;
            sample("_bucket", std::string(labels) + sep + "le=\"" + number(le) + "\"", static_cast<double>(cumulative));
        }
        sample("_sum", labels, h.sum_seconds);
        sample("_count", labels, static_cast<double>(h.count));
    }
    std::string take() { return std::move(out_); }

private:
    std::string prefix_, name_, out_;
};

}  // namespace

std::string to_prometheus(const fleet_metrics& m, std::string_view prefix) {
    writer w(prefix);
    auto d = [](std::uint64_t v) { return static_cast<double>(v); };
    w.family("migrations", "gauge", "Migrations of the fleet by state.");
    w.sample("", "state=\"queued\"", d(m.queued));
    w.sample("", "state=\"running\"", d(m.running));
    w.sample("", "state=\"done\"", d(m.done));
    w.sample("", "state=\"failed\"", d(m.failed));
    w.sample("", "state=\"unknown\"", d(m.unknown));
    w.sample("", "state=\"cancelled\"", d(m.cancelled));
    w.family("migrations_planned", "gauge", "Migrations given to the fleet.");
    w.sample("", "", d(m.migrations));
    w.family("jobs_in_flight", "gauge", "ImpEx jobs created and not yet ended, by kind.");
    w.sample("", "kind=\"export\"", d(m.export_jobs_in_flight));
    w.sample("", "kind=\"import\"", d(m.import_jobs_in_flight));
    w.family("jobs_created_total", "counter", "ImpEx jobs created, by kind.");
    w.sample("", "kind=\"export\"", d(m.export_jobs));
    w.sample("", "kind=\"import\"", d(m.import_jobs));
    w.family("bytes_total", "counter", "Package bytes moved: downloaded from source tenants, uploaded to targets.");
    w.sample("", "direction=\"download\"", d(m.bytes_downloaded));
    w.sample("", "direction=\"upload\"", d(m.bytes_uploaded));
    w.family("retries_total", "counter", "Retries by reason (a flow's, or an HTTP request's by error name).");
    for (const auto& [reason, n] : m.retries) w.sample("", "reason=\"" + label(reason) + "\"", d(n));
    w.family("splits_total", "counter", "Combined jobs split after a failure.");
    w.sample("", "", d(m.splits));
    w.family("job_duration_seconds", "histogram", "How long ImpEx jobs ran, as observed by polling.");
    w.histogram("kind=\"export\"", m.export_job_seconds);
    w.histogram("kind=\"import\"", m.import_job_seconds);
    return w.take();
}

fleet_monitor::fleet_monitor() : impl_(std::make_unique<impl>()) {}
fleet_monitor::~fleet_monitor() = default;

fleet_metrics fleet_monitor::snapshot() const {
    std::lock_guard lock(impl_->mu);
    fleet_metrics out = impl_->m;
    for (const auto& w : impl_->clients) {
        auto now = w.c.stats();
        for (const auto& [reason, n] : now.retry_reasons) {
            auto base = w.base.retry_reasons.find(reason);
            auto before = base == w.base.retry_reasons.end() ? 0 : base->second;
            if (n > before) out.retries[reason] += n - before;
        }
    }
    return out;
}

void fleet_monitor::impl::watch(const client& c) {
    std::lock_guard lock(mu);
    for (const auto& w : clients)
        if (&w.c.config() == &c.config()) return;  // copies of a client share one config
    clients.push_back({c, c.stats()});
}

void fleet_monitor::impl::planned(std::size_t n) {
    std::lock_guard lock(mu);
    m.migrations += n;
    m.queued += n;
}
void fleet_monitor::impl::started(std::size_t n) {
    std::lock_guard lock(mu);
    m.queued -= std::min<std::uint64_t>(m.queued, n);
    m.running += n;
}
void fleet_monitor::impl::requeued(std::size_t n) {
    std::lock_guard lock(mu);
    m.running -= std::min<std::uint64_t>(m.running, n);
    m.queued += n;
}
void fleet_monitor::impl::ended(error_code ec, bool known) {
    std::lock_guard lock(mu);
    if (m.running > 0) --m.running;
    if (!ec) ++m.done;
    else if (ec == errc::cancelled) ++m.cancelled;
    else if (!known) ++m.unknown;
    else ++m.failed;
}
void fleet_monitor::impl::split() {
    std::lock_guard lock(mu);
    ++m.splits;
}
void fleet_monitor::impl::never_started() {
    std::lock_guard lock(mu);
    if (m.queued > 0) --m.queued;
    ++m.cancelled;
}

namespace detail {

void task_watch::on_progress(const progress_event& ev) {
    using kind = progress_event::kind;
    std::lock_guard lock(mon_.mu);
    if (ev.what == kind::retry && !ev.reason.empty()) {
        ++mon_.m.retries[ev.reason];
    } else if (ev.what == kind::bytes) {
        auto& j = of(ev.job_kind);
        std::uint64_t delta = ev.bytes >= j.last_bytes ? ev.bytes - j.last_bytes : ev.bytes;  // a new transfer starts at 0
        j.last_bytes = ev.bytes;
        (ev.job_kind == "import" ? mon_.m.bytes_uploaded : mon_.m.bytes_downloaded) += delta;
    }
}

void task_watch::on_checkpoint(const checkpoint_event& ev) {
    using kind = checkpoint_event::kind;
    std::lock_guard lock(mon_.mu);
    switch (ev.what) {
    case kind::export_job:
    case kind::import_job: {
        bool exp = ev.what == kind::export_job;
        auto& j = of(exp ? "export" : "import");
        if (!j.in_flight) ++(exp ? mon_.m.export_jobs_in_flight : mon_.m.import_jobs_in_flight);
        j.in_flight = true;
        ++(exp ? mon_.m.export_jobs : mon_.m.import_jobs);
        break;
    }
    case kind::export_done:
    case kind::import_done: {
        bool exp = ev.what == kind::export_done;
        auto& j = of(exp ? "export" : "import");
        if (j.in_flight) --(exp ? mon_.m.export_jobs_in_flight : mon_.m.import_jobs_in_flight);
        j.in_flight = false;
        (exp ? mon_.m.export_job_seconds : mon_.m.import_job_seconds).observe(ev.duration);
        break;
    }
    default: break;
    }
}

void task_watch::end() {
    std::lock_guard lock(mon_.mu);
    if (export_.in_flight && mon_.m.export_jobs_in_flight > 0) --mon_.m.export_jobs_in_flight;
    if (import_.in_flight && mon_.m.import_jobs_in_flight > 0) --mon_.m.import_jobs_in_flight;
    export_.in_flight = import_.in_flight = false;
}

}  // namespace detail
}  // namespace cspark
