// The batch journal: JSON lines replayed at start; records that arrive while
// an fsync is in flight share the next one (at most one in flight, on a
// worker thread); an intent's record is awaited until durable, before its POST.
#pragma once

#include "cli/journal_record.hpp"
#include "cli/plan.hpp"
#include "core/text.hpp"
#include "core/waiters.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>
#include <unistd.h>

namespace cspark::cli {

class journal {
    using json_object = boost::json::object;
public:
    journal(const std::string& path, boost::asio::any_io_executor ex) : path_(path), ex_(std::move(ex)) {
        std::ifstream in(path);
        for (std::string line; std::getline(in, line);) {
            error_code ec;
            auto v = boost::json::parse(line, ec);
            if (ec || !v.is_object()) continue;  // a torn last line from a crash
            apply(v.get_object());
        }
        fd_ = ::open(path.c_str(), O_CREAT | O_WRONLY | O_APPEND | O_CLOEXEC, 0600);
        if (fd_ < 0) plan_error(path, "the journal cannot be opened for writing: " + std::string(std::strerror(errno)));
        next_ = std::make_shared<detail::waiters>(ex_);
    }
    ~journal() {
        pool_.join();
        if (fd_ >= 0) ::close(fd_);
    }
    progress_state& state(const std::string& name) { return states_[name]; }
    bool failed() const noexcept { return failed_; }
    std::size_t fsyncs() const noexcept { return fsyncs_; }

    /// Appends a record; completes once it is durable. Group commit with no
    /// delay: an idle journal fsyncs at once (an intent gates its POST, often
    /// on a chain's critical path); records that arrive while an fsync is in
    /// flight share the next one, so a burst costs two fsyncs, not one each.
    boost::asio::awaitable<void> record(boost::json::object rec) {
        auto batch = next_;
        append(std::move(rec));
        if (!flushing_) start_flush();
        co_await batch->wait();  // woken when its fsync is done
    }
    /// Appends a record that needs no wait: it is written with the next
    /// fsync an intent asks for, or by flush() at the end.
    void append(boost::json::object rec) {
        pending_ += boost::json::serialize(rec) + "\n";
        apply(rec);
    }
    /// Writes and fsyncs what is pending, here and now (at the end of a run).
    void flush() {
        pool_.join();
        if (!pending_.empty()) write(pending_);
        pending_.clear();
    }

private:
    bool write(const std::string& data) {
        bool ok = detail::write_all(fd_, data.data(), data.size()) && ::fsync(fd_) == 0;
        ++fsyncs_;
        if (!ok) failed_ = true;
        return ok;
    }
    void start_flush() {
        flushing_ = true;
        auto done = std::exchange(next_, std::make_shared<detail::waiters>(ex_));
        boost::asio::post(pool_, [this, data = std::exchange(pending_, std::string()), done]() {
            write(data);
            boost::asio::post(ex_, [this, done] {
                done->notify_all();  // every record of this batch is durable
                flushing_ = false;
                if (!next_->empty()) start_flush();  // intents arrived meanwhile
            });
        });
    }
    void apply(const boost::json::object& rec) {
        auto r = read_record(rec);
        for (const auto& name : r.members) cli::apply(states_[name], r);
    }
    std::string path_;
    boost::asio::any_io_executor ex_;
    int fd_ = -1;
    std::map<std::string, progress_state> states_;
    std::string pending_;
    bool flushing_ = false, failed_ = false;
    std::size_t fsyncs_ = 0;
    std::shared_ptr<detail::waiters> next_;  ///< woken when the pending records are durable
    boost::asio::thread_pool pool_{1};
};


}  // namespace cspark::cli
