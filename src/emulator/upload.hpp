// The emulator's import upload: a multipart body streamed to a file.
#pragma once

#include <cspark/body.hpp>

#include "core/multipart.hpp"
#include "core/text.hpp"

#include <fcntl.h>
#include <filesystem>
#include <functional>
#include <string>
#include <unistd.h>

namespace cspark::emu {

// Streams a multipart import body: importRequestEntity into memory (bounded),
// file into a temporary file; removes the file unless taken.
class upload_sink final : public body_sink {
public:
    using release_fn = std::function<void(std::filesystem::path)>;
    upload_sink(std::string boundary, std::filesystem::path tmp, std::uint64_t max_file, release_fn release)
        : parser_(std::move(boundary), {[this](const detail::part_info& p) { begin(p); },
                                        [this](std::span<const char> d) { data(d); }, [this] { current_ = part::none; }}),
          tmp_(std::move(tmp)),
          max_file_(max_file),
          release_(std::move(release)) {}
    ~upload_sink() override {
        if (fd_ >= 0) ::close(fd_);
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

private:
    enum class part { none, entity, file, other };
    void begin(const detail::part_info& p) {
        if (p.name == "importRequestEntity") {
            current_ = part::entity;
            entity_seen_ = true;
        } else if (p.name == "file") {
            current_ = part::file;
            file_seen_ = true;
            if (fd_ < 0) fd_ = ::open(tmp_.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);
            if (fd_ < 0) io_error_ = "cannot create the upload file";
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
            if (file_bytes_ > max_file_ || fd_ < 0) return;  // over the limit: counted, not kept
            if (!detail::write_all(fd_, d.data(), d.size())) io_error_ = "writing the upload failed";
        }
    }

    detail::multipart_parser parser_;
    std::filesystem::path tmp_;
    std::uint64_t max_file_;
    release_fn release_;
    int fd_ = -1;
    bool taken_ = false, entity_seen_ = false, file_seen_ = false;
    part current_ = part::none;
    std::string entity_, io_error_;
    std::uint64_t file_bytes_ = 0;
};


}  // namespace cspark::emu
