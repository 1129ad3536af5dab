#include "impex/transfer.hpp"

#include "impex/codec.hpp"

#include "core/multipart.hpp"
#include "core/text.hpp"
#include "zip/zip.hpp"

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <random>
#include <unistd.h>

namespace cspark::detail {

progress_event transfer_event(std::string job_kind, std::uint64_t bytes, std::uint64_t total) {
    progress_event e;
    e.what = progress_event::kind::bytes;
    e.job_kind = std::move(job_kind);
    e.bytes = bytes;
    e.total = total;
    return e;
}

namespace {

// Renames `from` to `to`; without `replace`, never over an existing file
// (atomically where the file system supports RENAME_NOREPLACE).
bool publish(const std::filesystem::path& from, const std::filesystem::path& to, bool replace, error_code& ec,
             std::string& why) {
    int rc = replace ? ::rename(from.c_str(), to.c_str())
                     : ::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE);
    if (rc != 0 && !replace && (errno == EINVAL || errno == ENOSYS)) {
        rc = ::link(from.c_str(), to.c_str());  // no RENAME_NOREPLACE here: link() refuses to replace too
        if (rc == 0) ::unlink(from.c_str());
    }
    if (rc == 0) return true;
    ec = errno == EEXIST ? errc::file_exists : errc::file_error;
    why = errno == EEXIST ? "'" + to.string() + "' already exists: not replaced (ask to overwrite)"
                          : "cannot rename '" + from.string() + "' to '" + to.string() + "': " + std::strerror(errno);
    return false;
}

// Without a server hash a package is at least checked as a ZIP: end record,
// central directory, and every entry's size and CRC-32.
bool readable_zip(const std::filesystem::path& p, std::string& why) {
    auto z = zip::reader::open(p, why);
    if (!z) return false;
    for (const auto& e : z->entries())
        if (!e.is_directory() && !z->read(e, [](std::span<const char>) {}, why)) return false;
    return true;
}

}  // namespace

bool prepare_directory(const std::filesystem::path& dir, error_code& ec, std::string& why) {
    std::filesystem::path d = dir.empty() ? std::filesystem::path(".") : dir;
    std::error_code fs_ec;
    std::filesystem::create_directories(d, fs_ec);
    if (fs_ec || !std::filesystem::is_directory(d, fs_ec)) {
        ec = errc::file_error;
        why = "the output directory '" + d.string() + "' cannot be made: " +
              (fs_ec ? fs_ec.message() : std::string("a file of that name is in the way")) + "; nothing was sent";
        return false;
    }
    // Root may write where the mode bits say no: try, as the download will.
    static thread_local std::mt19937_64 rng{std::random_device{}()};
    auto probe = d / (".cspark-probe-" + std::to_string(rng()));
    int fd = ::open(probe.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
    if (fd < 0) {
        ec = errc::file_error;
        why = "the output directory '" + d.string() + "' is not writable: " + std::strerror(errno) + "; nothing was sent";
        return false;
    }
    ::close(fd);
    ::unlink(probe.c_str());
    return true;
}

download_session::~download_session() { discard(); }

bool download_session::open(const std::string& name, error_code& ec, std::string& why) {
    if (opt_.in_memory) return true;
    std::error_code fs_ec;
    std::filesystem::create_directories(opt_.directory, fs_ec);
    final_path_ = opt_.directory / name;
    if (!opt_.overwrite && std::filesystem::symlink_status(final_path_, fs_ec).type() != std::filesystem::file_type::not_found) {
        ec = errc::file_exists;
        why = "'" + final_path_.string() + "' already exists: not replaced (ask to overwrite)";
        return false;
    }
    part_ = final_path_;
    part_ += ".part";
    fd_ = ::open(part_.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd_ < 0) {
        ec = errc::file_error;
        why = "cannot create '" + part_.string() + "': " + std::strerror(errno);
        part_.clear();
        return false;
    }
    return true;
}

std::string disposition_file_name(std::string_view h) {
    // Parameters: name=value or name="quoted value", separated by ';'.
    std::string plain, extended;
    std::size_t i = h.find(';');
    while (i != std::string_view::npos && i < h.size()) {
        ++i;
        while (i < h.size() && (h[i] == ' ' || h[i] == '\t')) ++i;
        auto eq = h.find('=', i);
        if (eq == std::string_view::npos) break;
        std::string key = to_lower(trim(h.substr(i, eq - i)));
        std::string value;
        std::size_t j = eq + 1;
        if (j < h.size() && h[j] == '"') {
            for (++j; j < h.size() && h[j] != '"'; ++j) {
                if (h[j] == '\\' && j + 1 < h.size()) ++j;
                value += h[j];
            }
            i = h.find(';', j);
        } else {
            auto end = h.find(';', j);
            value = std::string(trim(h.substr(j, end == std::string_view::npos ? std::string_view::npos : end - j)));
            i = end;
        }
        if (key == "filename") plain = value;
        if (key == "filename*") {
            // charset'language'percent-encoded
            auto q = value.find('\'');
            auto q2 = q == std::string::npos ? q : value.find('\'', q + 1);
            if (q2 != std::string::npos) {
                std::string decoded;
                for (std::size_t k = q2 + 1; k < value.size(); ++k) {
                    if (value[k] == '%' && k + 2 < value.size() && std::isxdigit(static_cast<unsigned char>(value[k + 1])) &&
                        std::isxdigit(static_cast<unsigned char>(value[k + 2]))) {
                        decoded += static_cast<char>(std::stoi(value.substr(k + 1, 2), nullptr, 16));
                        k += 2;
                    } else {
                        decoded += value[k];
                    }
                }
                extended = decoded;
            }
        }
    }
    std::string name = extended.empty() ? plain : extended;
    // Only the last path segment, in safe characters (no '/', no "..").
    auto slash = name.find_last_of("/\\");
    if (slash != std::string::npos) name = name.substr(slash + 1);
    std::string out;
    for (char ch : name) out += (std::isalnum(static_cast<unsigned char>(ch)) || ch == '.' || ch == '-' || ch == '_') ? ch : '_';
    if (out.empty() || out.front() == '.' || out.size() > 200) return {};
    return out;
}

void download_session::start(int status, std::optional<std::uint64_t> length, const header_list& headers, error_code& ec) {
    if (server_name_ && !opt_.in_memory && (status == 200 || status == 206)) {
        if (auto name = disposition_file_name(find_header(headers, "content-disposition")); !name.empty())
            final_path_ = opt_.directory / name;
    }
    if (status == 206 && written_ > 0) {
        auto from = content_range_start(find_header(headers, "content-range"));
        if (!from || *from != written_) {
            failure_ = "the server resumed the download at the wrong byte (Content-Range '" +
                       std::string(find_header(headers, "content-range")) + "', expected byte " + std::to_string(written_) + ")";
            ec = errc::unexpected_response;
            return;
        }
        total_ = length ? written_ + *length : 0;
        ++resumes_;
        return;
    }
    if (written_ > 0) restart(ec);  // the server sent the whole file again
    total_ = length.value_or(0);
}

void download_session::write(std::span<const char> d, error_code& ec) {
    if (opt_.in_memory) {
        if (data_.size() + d.size() > opt_.memory_limit) {
            ec = errc::body_too_large;
            return;
        }
        data_.append(d.data(), d.size());
    } else if (!write_all(fd_, d.data(), d.size())) {
        fail_io("writing", ec);
        return;
    }
    sha_.update(d);
    if (md5_on_) md5_.update(d);
    written_ += d.size();
    if (opt_.progress) opt_.progress(transfer_event("export", written_, total_));
}

void download_session::fail_io(const char* what, error_code& ec) {
    failure_ = std::string(what) + " '" + part_.string() + "' failed: " + std::strerror(errno);
    ec = errc::file_error;
}

void download_session::restart(error_code& ec) {
    written_ = 0;
    sha_ = hasher();
    md5_ = hasher(hasher::kind::md5);
    sha_hex_.clear();
    md5_hex_.clear();
    data_.clear();
    if (!opt_.in_memory && (::ftruncate(fd_, 0) != 0 || ::lseek(fd_, 0, SEEK_SET) != 0)) fail_io("truncating", ec);
}

bool download_session::keep(bool verified, downloaded_file& out, error_code& ec, std::string& why) {
    out.size = written_;
    out.resumes = resumes_;
    out.sha256 = sha256();
    out.verified = verified;
    if (opt_.in_memory) {
        out.data = std::move(data_);
        return true;
    }
    bool flushed = !opt_.durable || ::fsync(fd_) == 0;
    int err = errno;
    if (::close(fd_) != 0 && flushed) err = errno, flushed = false;
    fd_ = -1;
    if (!flushed) {
        ec = errc::file_error;
        why = "cannot flush '" + part_.string() + "': " + std::strerror(err);
        return false;
    }
    if (!verified && !readable_zip(part_, why)) {
        ec = errc::invalid_package;
        why = "the package is not a readable ZIP (" + why + ") and the server gave no hash to check it against; '" +
              part_.string() + "' removed";
        return false;
    }
    if (!publish(part_, final_path_, opt_.overwrite, ec, why)) return false;
    part_.clear();  // kept: nothing to remove
    out.path = final_path_;
    return true;
}

void download_session::discard() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    if (!part_.empty()) {
        std::error_code ignored;
        std::filesystem::remove(part_, ignored);
        part_.clear();
    }
}

namespace {

// Upload progress: the file part reports bytes read (sent) against its size.
class counting_source final : public body_source {
public:
    counting_source(std::unique_ptr<body_source> inner, progress_fn fn) : inner_(std::move(inner)), fn_(std::move(fn)) {}
    std::uint64_t size() const override { return inner_->size(); }
    std::size_t read(std::span<char> buf, error_code& ec) override {
        std::size_t n = inner_->read(buf, ec);
        done_ += n;
        if (fn_ && (done_ - reported_ >= (1u << 20) || done_ == size())) {
            reported_ = done_;
            fn_(transfer_event("import", done_, size()));
        }
        return n;
    }
    void rewind(error_code& ec) override {
        inner_->rewind(ec);
        done_ = reported_ = 0;
    }

private:
    std::unique_ptr<body_source> inner_;
    progress_fn fn_;
    std::uint64_t done_ = 0, reported_ = 0;
};

}  // namespace

std::optional<import_body> make_import_body(const std::filesystem::path& file, const std::string& entity,
                                            std::uint64_t max_bytes, const progress_fn& progress, error_code& ec,
                                            std::string& why) {
    auto package = make_file_source(file, ec);
    if (!package) {
        ec = errc::file_error;
        why = "cannot read the package '" + file.string() + "': " + std::strerror(errno);
        return std::nullopt;
    }
    if (max_bytes > 0 && package->size() > max_bytes) {
        ec = errc::package_too_large;
        why = "package '" + file.string() + "' is " + std::to_string(package->size()) + " bytes, over the upload limit of " +
              std::to_string(max_bytes) + " bytes: it was not sent (raise the limit only if the tenant's is higher)";
        return std::nullopt;
    }
    static thread_local std::mt19937_64 rng{std::random_device{}()};
    std::string boundary = make_boundary(rng);
    std::vector<std::unique_ptr<body_source>> parts;
    parts.push_back(make_string_source(multipart_part_head(boundary, "importRequestEntity", "", "", true) + entity));
    parts.push_back(make_string_source(multipart_part_head(boundary, "file", "package.zip", "application/zip", false)));
    parts.push_back(std::make_unique<counting_source>(std::move(package), progress));
    parts.push_back(make_string_source(multipart_tail(boundary)));
    return import_body{make_concat_source(std::move(parts)), "multipart/form-data; boundary=" + boundary};
}

}  // namespace cspark::detail
