// doctor's TLS judgement: what the peer's certificate says, with OpenSSL's
// reason when it is not trusted.
#include "cli/doctor.hpp"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <memory>

namespace cspark::cli {

// What the peer's certificate says, judged: chain, host name, days left.
doctor_check judge_certificate(ssl_st* ssl, const std::string& host, bool insecure) {
    doctor_check k{.name = "TLS"};
    X509* cert = SSL_get1_peer_certificate(ssl);
    if (!cert) {
        k.ok = false;
        k.found = "the server sent no certificate";
        k.fix = "this is not a TLS server as Spark's are: check the URL's scheme and port";
        return k;
    }
    std::unique_ptr<X509, decltype(&X509_free)> held(cert, X509_free);
    char subject[256] = {0}, issuer[256] = {0};
    X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, subject, sizeof subject);
    X509_NAME_get_text_by_NID(X509_get_issuer_name(cert), NID_commonName, issuer, sizeof issuer);
    int days = 0, secs = 0;
    ASN1_TIME_diff(&days, &secs, nullptr, X509_get0_notAfter(cert));
    bool ip = host.find_first_not_of("0123456789.") == std::string::npos || host.find(':') != std::string::npos;
    bool name_ok = ip ? X509_check_ip_asc(cert, host.c_str(), 0) == 1
                      : X509_check_host(cert, host.c_str(), host.size(), 0, nullptr) == 1;
    long verify = SSL_get_verify_result(ssl);
    k.found = std::string(SSL_get_version(ssl)) + ", certificate for '" + subject + "' issued by '" + issuer + "', " +
              (days >= 0 ? "expires in " + std::to_string(days) + " days" : "expired " + std::to_string(-days) + " days ago");
    if (insecure) {
        k.found += " (not verified: --insecure)";
        return k;
    }
    if (days < 0 || (days == 0 && secs < 0)) {
        k.ok = false;
        k.fix = "the server's certificate has expired: tell the server's operator";
    } else if (verify != X509_V_OK) {
        k.ok = false;
        k.found += "; chain: " + std::string(X509_verify_cert_error_string(verify));
        k.fix = "the certificate's issuer is not trusted here: a company proxy or private CA? trust it with --ca-file PEM "
                "(or install it in the system's CA store)";
    } else if (!name_ok) {
        k.ok = false;
        k.fix = "the certificate does not name '" + host + "': check the host in the base URL";
    } else if (days < 14) {
        k.fix = "the certificate expires soon";
    }
    return k;
}

}  // namespace cspark::cli
