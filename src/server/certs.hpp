// Self-signed certificates made at run time: the emulator's --tls mode and the
// transport's TLS tests use them (no certificate files in the repository).
#pragma once

#include <string>
#include <vector>

namespace cspark::server {

struct pem_pair {
    std::string cert_pem;
    std::string key_pem;
};

/// An ECDSA P-256 certificate valid from now for `days`, with the given
/// subjectAltName DNS names and IP addresses. Throws std::runtime_error.
pem_pair make_self_signed(const std::vector<std::string>& dns_names, const std::vector<std::string>& ips,
                          int days = 30, const std::string& common_name = "cspark-emulator");

}  // namespace cspark::server
