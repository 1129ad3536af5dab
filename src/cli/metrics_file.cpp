#include "cli/metrics_file.hpp"

#include <cstdio>
#include <cstring>

namespace cspark::cli {

void metrics_file::start() {
    if (path_.empty()) return;
    write();
    arm();
}

void metrics_file::stop() {
    if (path_.empty()) return;
    stopped_ = true;
    timer_.cancel();
    write();
}

void metrics_file::arm() {
    timer_.expires_after(interval);
    timer_.async_wait([this](const error_code& ec) {
        if (ec || stopped_) return;
        write();
        arm();
    });
}

void metrics_file::write() {
    auto m = mon_->snapshot();
    m.migrations += skipped_;  // done in an earlier run (the journal says)
    m.done += skipped_;
    auto text = to_prometheus(m);
    auto now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    char stamp[32];
    std::snprintf(stamp, sizeof stamp, "%.3f", now);
    text += "# HELP cspark_batch_updated_seconds When this file was written (Unix time).\n"
            "# TYPE cspark_batch_updated_seconds gauge\ncspark_batch_updated_seconds " + std::string(stamp) + "\n";
    if (int err = replace_file(path_, text, ".tmp"); err != 0) {
        if (!warned_) out_.error("batch: --metrics: cannot write '" + path_ + "': " + std::strerror(err) + " (the run goes on)");
        warned_ = true;
    }
}

}  // namespace cspark::cli
