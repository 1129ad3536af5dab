#include "core/hash.hpp"

#include "core/text.hpp"

#include <openssl/evp.h>

#include <stdexcept>

namespace cspark::detail {

struct hasher::impl {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    const EVP_MD* md = nullptr;
    ~impl() { EVP_MD_CTX_free(ctx); }
    void reset() {
        if (!ctx || EVP_DigestInit_ex(ctx, md, nullptr) != 1) throw std::runtime_error("EVP_DigestInit_ex failed");
    }
};

hasher::hasher(kind k) : impl_(std::make_unique<impl>()) {
    impl_->md = k == kind::sha256 ? EVP_sha256() : EVP_md5();
    impl_->reset();
}
hasher::~hasher() = default;
hasher::hasher(hasher&&) noexcept = default;
hasher& hasher::operator=(hasher&&) noexcept = default;

void hasher::update(std::span<const char> data) { EVP_DigestUpdate(impl_->ctx, data.data(), data.size()); }

std::string hasher::hex_digest() {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_DigestFinal_ex(impl_->ctx, out, &n);
    impl_->reset();
    return to_hex(std::span<const unsigned char>(out, n));
}

std::string sha256_hex(std::string_view data) {
    hasher h;
    h.update(data);
    return h.hex_digest();
}

}  // namespace cspark::detail
