#include <cspark/body.hpp>
#include <cspark/http.hpp>

#include "core/text.hpp"

#include <boost/json/parse.hpp>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace cspark {
namespace {

class file_source final : public body_source {
public:
    file_source(int fd, std::uint64_t offset, std::uint64_t length) : fd_(fd), offset_(offset), length_(length) {}
    ~file_source() override { ::close(fd_); }
    std::uint64_t size() const override { return length_; }

    std::size_t read(std::span<char> buf, error_code& ec) override {
        std::uint64_t left = length_ - done_;
        if (left == 0 || buf.empty()) return 0;
        std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(left, buf.size()));
        for (;;) {
            ssize_t n = ::pread(fd_, buf.data(), want, static_cast<off_t>(offset_ + done_));
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) {
                ec = errc::file_error;  // shrank under us, or an I/O error
                return 0;
            }
            done_ += static_cast<std::uint64_t>(n);
            return static_cast<std::size_t>(n);
        }
    }
    void rewind(error_code&) override { done_ = 0; }

private:
    int fd_;
    std::uint64_t offset_, length_, done_ = 0;
};

class string_source final : public body_source {
public:
    explicit string_source(std::string s) : data_(std::move(s)) {}
    std::uint64_t size() const override { return data_.size(); }
    std::size_t read(std::span<char> buf, error_code&) override {
        std::size_t n = std::min(buf.size(), data_.size() - pos_);
        std::memcpy(buf.data(), data_.data() + pos_, n);
        pos_ += n;
        return n;
    }
    void rewind(error_code&) override { pos_ = 0; }

private:
    std::string data_;
    std::size_t pos_ = 0;
};

class concat_source final : public body_source {
public:
    explicit concat_source(std::vector<std::unique_ptr<body_source>> parts) : parts_(std::move(parts)) {
        for (auto& p : parts_) size_ += p->size();
    }
    std::uint64_t size() const override { return size_; }
    std::size_t read(std::span<char> buf, error_code& ec) override {
        while (index_ < parts_.size()) {
            std::size_t n = parts_[index_]->read(buf, ec);
            if (ec || n > 0) return n;
            ++index_;
        }
        return 0;
    }
    void rewind(error_code& ec) override {
        for (auto& p : parts_) {
            p->rewind(ec);
            if (ec) return;
        }
        index_ = 0;
    }

private:
    std::vector<std::unique_ptr<body_source>> parts_;
    std::uint64_t size_ = 0;
    std::size_t index_ = 0;
};

}  // namespace

std::unique_ptr<body_source> make_file_source(const std::filesystem::path& path, error_code& ec,
                                              std::uint64_t offset, std::optional<std::uint64_t> length) {
    ec = {};
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        ec = errc::file_error;
        return nullptr;
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || offset > static_cast<std::uint64_t>(st.st_size)) {
        ::close(fd);
        ec = errc::file_error;
        return nullptr;
    }
    std::uint64_t avail = static_cast<std::uint64_t>(st.st_size) - offset;
    std::uint64_t len = length ? std::min(*length, avail) : avail;
    return std::make_unique<file_source>(fd, offset, len);
}

std::unique_ptr<body_source> make_string_source(std::string data) {
    return std::make_unique<string_source>(std::move(data));
}

std::unique_ptr<body_source> make_concat_source(std::vector<std::unique_ptr<body_source>> parts) {
    return std::make_unique<concat_source>(std::move(parts));
}

std::string_view find_header(const header_list& headers, std::string_view name) noexcept {
    for (const auto& [k, v] : headers)
        if (detail::iequals(k, name)) return v;
    return {};
}

std::string_view to_string(http_method m) noexcept {
    switch (m) {
    case http_method::get: return "GET";
    case http_method::head: return "HEAD";
    case http_method::post: return "POST";
    case http_method::put: return "PUT";
    case http_method::patch: return "PATCH";
    case http_method::delete_: return "DELETE";
    }
    return "?";
}

boost::json::value parse_json_body(const response& r, error_code& ec, diagnostics& diag) {
    error_code json_ec;
    boost::json::value v = boost::json::parse(r.body, json_ec);
    if (json_ec) {
        ec = errc::malformed_json;
        diag.http_status = r.status;
        diag.request_id = r.request_id;
        diag.detail = "response body is not JSON (" + json_ec.message() + ")";
        diag.body_excerpt = detail::excerpt(r.body, 512);
        return nullptr;
    }
    ec = {};
    return v;
}

}  // namespace cspark
