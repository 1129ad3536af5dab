// The byte-moving pieces of the driver: a download written to `<name>.part`
// (hashed while written, resumable with Range, checked and renamed into
// place) and an import's multipart body streamed from the package file.
#pragma once

#include <cspark/impex.hpp>

#include "core/hash.hpp"

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

namespace cspark::detail {

class download_session final : public body_sink {
public:
    explicit download_session(const download_options& opt) : opt_(opt), md5_(hasher::kind::md5) {}
    ~download_session() override;
    download_session(const download_session&) = delete;
    download_session& operator=(const download_session&) = delete;

    /// Opens `<opt.directory>/<name>.part` (or memory). Refuses an existing
    /// destination unless opt.overwrite (file_exists); file_error names the path.
    bool open(const std::string& name, error_code& ec, std::string& why);
    /// Also compute MD5 (the server's file_hash is 32 hex digits).
    void want_md5(bool on) noexcept { md5_on_ = on; }
    /// Keep the file under the name a 200/206 answer's Content-Disposition
    /// gives (made safe), instead of the one opened.
    void take_server_name(bool on) noexcept { server_name_ = on; }

    void start(int status, std::optional<std::uint64_t> length, const header_list& headers, error_code& ec) override;
    void write(std::span<const char> d, error_code& ec) override;
    std::uint64_t resume_offset() const override { return written_; }

    std::uint64_t written() const noexcept { return written_; }
    int resumes() const noexcept { return resumes_; }
    /// The digests of the whole body, once it is complete. Finishing a hash
    /// resets it, so each is computed once and kept.
    const std::string& sha256() {
        if (sha_hex_.empty()) sha_hex_ = sha_.hex_digest();
        return sha_hex_;
    }
    /// "" unless want_md5(true).
    const std::string& md5() {
        if (md5_on_ && md5_hex_.empty()) md5_hex_ = md5_.hex_digest();
        return md5_hex_;
    }
    /// What went wrong locally (naming the path and the system error), or "".
    const std::string& failure() const noexcept { return failure_; }

    /// Whole and hash-checked: flush, check as a ZIP when `verified` is false,
    /// rename into place (never over a file unless overwrite). Fills `out`.
    bool keep(bool verified, downloaded_file& out, error_code& ec, std::string& why);
    /// Closes and removes the partial file.
    void discard();

private:
    void fail_io(const char* what, error_code& ec);
    void restart(error_code& ec);

    const download_options& opt_;
    int fd_ = -1;
    std::filesystem::path final_path_, part_;
    std::uint64_t written_ = 0, total_ = 0;
    int resumes_ = 0;
    std::string data_;
    hasher sha_;
    hasher md5_;
    bool md5_on_ = false;
    bool server_name_ = false;
    std::string sha_hex_, md5_hex_;
    std::string failure_;
};

/// The directory packages go to can take them: made when missing, and a file
/// can be created in it. Checked before an export's POST, so a bad output
/// directory fails before a job exists (file_error naming the path and why).
bool prepare_directory(const std::filesystem::path& dir, error_code& ec, std::string& why);

/// The multipart body of POST import: the entity, then the package streamed
/// from `file` (progress every MiB). Errors: file_error, package_too_large.
struct import_body {
    std::unique_ptr<body_source> source;
    std::string content_type;
};
/// The file name a Content-Disposition header gives (filename*=UTF-8''... is
/// preferred to filename=...), reduced to a safe single name; "" when none.
std::string disposition_file_name(std::string_view header);

std::optional<import_body> make_import_body(const std::filesystem::path& file, const std::string& entity,
                                            std::uint64_t max_bytes, const progress_fn& progress, error_code& ec,
                                            std::string& why);

/// A progress event for bytes moved.
progress_event transfer_event(std::string job_kind, std::uint64_t bytes, std::uint64_t total);

}  // namespace cspark::detail
