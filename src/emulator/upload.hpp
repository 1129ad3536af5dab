// The emulator's import upload: a multipart body kept in memory or streamed to a file.
#pragma once

#include <cspark/body.hpp>

#include "core/multipart.hpp"
#include "core/text.hpp"

#include <atomic>
#include <fcntl.h>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <unistd.h>

namespace cspark::emu {

/// Bytes of uploads held in memory across one emulator's sinks, and how many
/// may be: an upload past the budget goes to its temporary file instead.
struct upload_budget {
    std::atomic<std::uint64_t> held{0};
    std::uint64_t limit = 0;
    bool reserve(std::uint64_t n) {
        auto now = held.load();
        do {
            if (now + n > limit) return false;
        } while (!held.compare_exchange_weak(now, now + n));
        return true;
    }
    void release(std::uint64_t n) { held -= n; }
};

// Streams a multipart import body: importRequestEntity into memory (bounded),
// file into memory while the budget allows (checking an archive in memory
// costs a third less than writing it and reading it back), else into a
// temporary file; removes the file unless taken.
class upload_sink final : public body_sink {
public:
    using release_fn = std::function<void(std::filesystem::path)>;
    upload_sink(std::string boundary, std::filesystem::path tmp, std::uint64_t max_file, release_fn release,
                std::shared_ptr<upload_budget> budget = nullptr)
        : parser_(std::move(boundary), {[this](const detail::part_info& p) { begin(p); },
                                        [this](std::span<const char> d) { data(d); }, [this] { current_ = part::none; }}),
          tmp_(std::move(tmp)),
          max_file_(max_file),
          release_(std::move(release)),
          budget_(std::move(budget)) {}
    ~upload_sink() override {
        if (fd_ >= 0) ::close(fd_);
        if (budget_) budget_->release(reserved_);
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
    /// The file part was kept in memory (no temporary file was written).
    bool in_memory() const { return file_seen_ && !spilled_; }
    /// The file part, when in_memory().
    std::string& bytes() { return memory_; }

private:
    enum class part { none, entity, file, other };
    void begin(const detail::part_info& p) {
        if (p.name == "importRequestEntity") {
            current_ = part::entity;
            entity_seen_ = true;
        } else if (p.name == "file") {
            current_ = part::file;
            file_seen_ = true;
            if (!budget_) spill();
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
            if (file_bytes_ > max_file_) return;  // over the limit: counted, not kept
            if (!spilled_ && budget_->reserve(d.size())) {
                reserved_ += d.size();
                memory_.append(d.data(), d.size());
                return;
            }
            if (!spilled_) spill();
            if (fd_ >= 0 && !detail::write_all(fd_, d.data(), d.size())) io_error_ = "writing the upload failed";
        }
    }
    // From here on the file part goes to the temporary file (what memory held first).
    void spill() {
        spilled_ = true;
        if (fd_ < 0) fd_ = ::open(tmp_.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);
        if (fd_ < 0) {
            io_error_ = "cannot create the upload file";
            return;
        }
        if (!memory_.empty() && !detail::write_all(fd_, memory_.data(), memory_.size())) io_error_ = "writing the upload failed";
        std::string().swap(memory_);
        if (budget_) budget_->release(reserved_);
        reserved_ = 0;
    }

    detail::multipart_parser parser_;
    std::filesystem::path tmp_;
    std::uint64_t max_file_;
    release_fn release_;
    std::shared_ptr<upload_budget> budget_;
    int fd_ = -1;
    std::string memory_;
    std::uint64_t reserved_ = 0;
    bool taken_ = false, entity_seen_ = false, file_seen_ = false, spilled_ = false;
    part current_ = part::none;
    std::string entity_, io_error_;
    std::uint64_t file_bytes_ = 0;
};


}  // namespace cspark::emu
