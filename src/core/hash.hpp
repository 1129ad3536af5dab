// Incremental SHA-256 / MD5 (OpenSSL EVP), for file_hash and checksums.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace cspark::detail {

class hasher {
public:
    enum class kind { sha256, md5 };
    explicit hasher(kind k = kind::sha256);
    ~hasher();
    hasher(hasher&&) noexcept;
    hasher& operator=(hasher&&) noexcept;

    void update(std::span<const char> data);
    void update(std::string_view s) { update(std::span<const char>(s.data(), s.size())); }
    /// Lower-case hex digest; the hasher starts over afterwards.
    std::string hex_digest();

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

std::string sha256_hex(std::string_view data);

}  // namespace cspark::detail
