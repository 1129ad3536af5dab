// `cspark-impex doctor`: is this tenant reachable and are these credentials
// right, without side effects (no job started, nothing uploaded). One check
// per line, in order, each with what it found and, when it fails, what to do.
#pragma once

#include "cli/cli.hpp"

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

struct ssl_st;  // OpenSSL's SSL

namespace cspark::cli {

/// One check's outcome. `exit`: the CLI's code when it fails (2 a bad URL,
/// 5 credentials, 1 otherwise).
struct doctor_check {
    std::string name;
    bool ok = true;
    bool skipped = false;          ///< not run (an earlier check failed, or it does not apply)
    std::string found, fix;
    std::chrono::milliseconds took{0};
    int exit = failed;
};

/// What a JWT's payload says (not verified: read to explain, never printed whole).
struct jwt_claims {
    bool readable = false;
    std::optional<std::chrono::system_clock::time_point> expires, issued;
    std::string tenant;  ///< the realm of `iss` (".../realms/{tenant}"), else a tenant / realm claim
};
jwt_claims read_jwt(std::string_view token);

/// A bearer token's check: expired, for another tenant, or fine (`now` injected).
doctor_check bearer_check(const jwt_claims& c, const std::string& tenant, std::chrono::system_clock::time_point now);

/// What an authenticated read answered, explained: 2xx passes; 401 / 403
/// say which credential to fix (`auth`: "API key", "bearer token", "OAuth client").
doctor_check read_check(const std::string& name, int status, const std::string& api_code, const std::string& auth,
                        const std::string& tenant);

/// The server's Date against ours: a skew over 5 minutes fails (tokens and
/// signed links are judged by time), over 30 s is said.
doctor_check clock_check(std::optional<std::chrono::system_clock::time_point> server,
                         std::chrono::system_clock::time_point local);

/// The exit code of a doctor run: 0 when every check passed, else the first failed check's.
int doctor_exit(const std::vector<doctor_check>& checks);

/// Runs the checks of one side (or both: from and to) and prints them.
int doctor(const connection_options& conn, const std::vector<std::pair<std::string, connection_options>>& sides,
           const output& out);

/// A TLS peer's certificate judged after the handshake: chain (OpenSSL's
/// reason), host name, days left; `insecure`: shown, not judged.
doctor_check judge_certificate(ssl_st* ssl, const std::string& host, bool insecure);

}  // namespace cspark::cli
