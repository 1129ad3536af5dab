// cspark::emulator: a local Spark ImpEx server, in-process or as the
// cspark-emulator binary. It serves the export/import job API, OAuth tokens
// and package downloads for many tenants, with fault injection, so pipelines
// and tests run offline. Behaviour follows the wire reference (docs/wire.md);
// where Spark's behaviour is unknown, the choice is a config field below.
#pragma once

#include <cspark/clock.hpp>
#include <cspark/error.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/json/value.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace cspark {

struct emulator_config {
    std::string address = "127.0.0.1";  ///< listen address (loopback by default)
    std::uint16_t port = 0;              ///< 0 = ephemeral
    bool tls = false;                    ///< serve HTTPS
    std::string tls_cert_file;           ///< PEM; empty with tls = a self-signed certificate is made
    std::string tls_key_file;
    std::string write_cert_to;           ///< where the made certificate is written for clients to trust

    std::chrono::milliseconds job_duration{2000};  ///< created -> finished
    /// Per kind, in place of job_duration (Spark's UAT took about 4 s for a
    /// one-service export and 9 s for its import: emulator_profile_uat()).
    std::optional<std::chrono::milliseconds> export_job_duration, import_job_duration;
    double job_jitter = 0;               ///< each job's duration varies by up to +- this fraction (uniform)
    bool report_completed = false;       ///< show "completed" for a while before "closed"
    bool failed_status = false;          ///< failed jobs end "failed" instead of "closed" + errors
    std::size_t export_job_limit = 1;    ///< running exports per tenant (documented: 1)
    std::size_t import_job_limit = 1;    ///< running imports per tenant (documented: 1)
    int job_in_progress_status = 409;    ///< status for a job over the limit (Spark's is unknown)
    std::uint64_t max_upload_bytes = 200ull * 1024 * 1024;  ///< import size limit (Spark: 200 MB)
    std::chrono::milliseconds download_ttl{std::chrono::minutes(5)};  ///< link lifetime (Spark's store links: about 5 minutes)
    /// Where download links point. store: a second listener that plays Spark's
    /// document store, as the real service does
    /// (`{store}/docstore/api/v1/documents/versions/tokens/{token}/package.zip`,
    /// the token an opaque URL-encoded path segment; auth headers tolerated;
    /// Range served). api: the API's own host (`/download/{job}/{name}?token=...`).
    enum class link_host { store, api } links = link_host::store;
    std::uint16_t store_port = 0;        ///< the document store's port (links = store); 0 = ephemeral
    std::chrono::seconds token_lifetime{300};  ///< OAuth expires_in
    std::chrono::milliseconds describe_window{std::chrono::hours(1)};  ///< finished jobs in describe
    bool describe_correlation = true;    ///< describe items carry data.correlation_id ([INF]: the
                                         ///< documented sample has none; false serves that shape)
    bool opaque_links = false;           ///< links = api: download links end in an opaque segment (".../blob?token="), as some
                                         ///< stores' pre-signed links do, instead of the package's file name
    bool content_disposition = true;     ///< downloads carry Content-Disposition with the package's file name
    std::uint64_t package_bytes = 64 * 1024;  ///< payload bytes per exported version
    /// Packages of up to this many payload bytes are built inside the export
    /// POST; larger ones on a background thread while the server keeps
    /// answering (the job does not finish before its package is built).
    std::uint64_t inline_package_bytes = 8ull * 1024 * 1024;
    /// Imports are checked from memory while the uploads held at once stay
    /// within this many bytes; past it an upload goes to a file (0 = always).
    std::uint64_t upload_memory_bytes = 256ull * 1024 * 1024;
    bool strict = false;                 ///< require x-tenant-name, x-request-id, x-spark-ua
    std::filesystem::path data_dir;      ///< packages and uploads; "" = a fresh temp directory
    std::string request_log;             ///< JSON-lines request log path; "" = none, "-" = stderr
    std::size_t threads = 1;             ///< for run(): io threads serving connections
    std::shared_ptr<timer_service> clock;  ///< null = real time; manual for tests
};

/// `cspark-emulator --profile uat`: timings as Spark's UAT answered a real run
/// (exports about 4 s, imports about 9 s, +-25 % jitter), store links, 5-minute links.
void apply_profile_uat(emulator_config& cfg);

/// What generate() makes: tenants with folders, services and versions, and
/// target tenants with the same (empty) folders to import into.
struct fleet_spec {
    std::size_t tenants = 1;
    std::size_t target_tenants = 0;
    std::size_t folders = 1;   ///< per tenant
    std::size_t services = 1;  ///< per folder
    std::size_t versions = 1;  ///< per service
    std::uint64_t random_seed = 1;
    std::string tenant_prefix = "tenant-";
    std::string target_prefix = "target-";
};

struct tenant_credentials {
    std::string tenant;
    std::string api_key;
    std::string bearer_token;
    std::string client_id;
    std::string client_secret;
};

class emulator {
public:
    /// Serves on `ex` (start() binds). Throws spark_error on bad config.
    emulator(boost::asio::any_io_executor ex, emulator_config cfg = {});
    ~emulator();
    emulator(const emulator&) = delete;
    emulator& operator=(const emulator&) = delete;

    /// Adds tenants from a seed document (see docs/emulator.md, "Data").
    /// Throws spark_error(invalid_argument) naming the bad field.
    void load_seed(const boost::json::value& seed);
    void load_seed_file(const std::filesystem::path& path);
    /// Adds a deterministic generated fleet.
    void generate(const fleet_spec& spec);

    void start();
    void stop();
    std::uint16_t port() const;
    /// The document store's port (links = store, once started), else 0.
    std::uint16_t store_port() const;
    /// "http://127.0.0.1:PORT"
    std::string url() const;
    /// "http://127.0.0.1:PORT/{tenant}"
    std::string base_url(const std::string& tenant) const;
    std::vector<tenant_credentials> credentials() const;
    tenant_credentials credentials(const std::string& tenant) const;
    /// The made certificate (PEM) in TLS mode without a given certificate.
    std::string certificate_pem() const;

    /// Replaces the fault rules (same document as PUT /_emulator/faults).
    void set_faults(const boost::json::value& doc);
    /// Tenants, services, versions and the job history (GET /_emulator/state).
    boost::json::value state() const;
    std::size_t request_count() const;

    struct impl;
    impl& get_impl() noexcept { return *impl_; }  ///< for the fuzzers: requests without sockets

private:
    std::shared_ptr<impl> impl_;
};

}  // namespace cspark
