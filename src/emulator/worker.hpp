// Internal: one background thread that runs tasks in order, for work too slow
// for the server's threads (building a large export package).
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace cspark::emu {

class worker {
public:
    worker() = default;
    worker(const worker&) = delete;
    worker& operator=(const worker&) = delete;
    ~worker() { stop(); }

    /// Queues a task; the thread starts with the first one.
    void post(std::function<void()> task) {
        std::lock_guard lock(m_);
        if (stopping_) return;
        q_.push_back(std::move(task));
        if (!t_.joinable()) t_ = std::thread([this] { run(); });
        cv_.notify_one();
    }

    /// Lets the running task finish, drops queued ones, joins.
    void stop() {
        {
            std::lock_guard lock(m_);
            stopping_ = true;
            q_.clear();
            cv_.notify_one();
        }
        if (t_.joinable()) t_.join();
    }

private:
    void run() {
        for (;;) {
            std::function<void()> task;
            {
                std::unique_lock lock(m_);
                cv_.wait(lock, [this] { return stopping_ || !q_.empty(); });
                if (stopping_) return;
                task = std::move(q_.front());
                q_.pop_front();
            }
            task();
        }
    }

    std::mutex m_;
    std::condition_variable cv_;
    std::deque<std::function<void()>> q_;
    bool stopping_ = false;
    std::thread t_;
};

}  // namespace cspark::emu
