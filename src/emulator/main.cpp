// cspark-emulator: a local Spark ImpEx server for offline pipelines and tests.
#include <cspark/emulator.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/json/parse.hpp>

#include <CLI/CLI.hpp>

#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

namespace asio = boost::asio;

namespace {

struct args {
    cspark::emulator_config cfg;
    cspark::fleet_spec fleet;
    std::string seed_file, faults_file;
    bool print_credentials = false, no_describe_correlation = false;
    std::uint16_t port = 0;
    long job_ms = 0, ttl_s = 300, token_s = 300;  // job_ms 0: the official SDKs' default polling (2 checks) succeeds
    std::uint64_t max_upload_mb = 200, fault_seed = 1;
    std::vector<std::string> fault_rules;
    std::string profile, links = "store";
    std::uint16_t store_port = 0;
};

// How jobs, links, faults and the listener answer.
void define_answers(CLI::App& app, args& a) {
    auto& cfg = a.cfg;
    app.add_flag("--report-completed", cfg.report_completed, "Report 'completed' before 'closed'");
    app.add_flag("--failed-status", cfg.failed_status, "Failed jobs end 'failed' instead of 'closed' with errors");
    app.add_option("--job-limit", cfg.export_job_limit, "Running jobs of each kind per tenant")->capture_default_str();
    app.add_option("--conflict-status", cfg.job_in_progress_status, "HTTP status for a job over the limit")->capture_default_str();
    app.add_option("--max-upload-mb", a.max_upload_mb, "Import size limit in MB")->capture_default_str();
    app.add_option("--download-ttl-s", a.ttl_s, "Download link lifetime in seconds (Spark's store links: about 5 minutes)")
        ->capture_default_str();
    app.add_option("--links", a.links,
                   "Where download links point: store (a second listener playing Spark's document store, "
                   ".../docstore/api/v1/documents/versions/tokens/{token}/package.zip, as the real service) or api "
                   "(the API host, /download/{job}/{name}?token=...)")
        ->capture_default_str()
        ->check(CLI::IsMember({"store", "api"}));
    app.add_option("--store-port", a.store_port, "The document store's port (0 = ephemeral)")->capture_default_str();
    app.add_option("--profile", a.profile,
                   "uat: timings as Spark's UAT answered a real run (exports about 4 s, imports about 9 s, +-25 % jitter); "
                   "--job-ms and --job-jitter given with it still apply")
        ->check(CLI::IsMember({"uat"}));
    app.add_flag("--strict", cfg.strict, "Require x-tenant-name, x-request-id and x-spark-ua");
    app.add_flag("--describe-without-correlation", a.no_describe_correlation,
                 "Serve describe (GET export/status, import/status) in the documented shape, without correlation ids");
    app.add_flag("--opaque-links", cfg.opaque_links, "Download links end in an opaque segment, not the package's file name");
    app.add_flag("!--no-content-disposition", cfg.content_disposition, "Downloads carry no Content-Disposition");
    app.add_flag("--tls", cfg.tls, "Serve HTTPS");
    app.add_option("--tls-cert", cfg.tls_cert_file, "PEM certificate (default: a self-signed one is made)");
    app.add_option("--tls-key", cfg.tls_key_file, "PEM private key");
    app.add_option("--write-cert", cfg.write_cert_to, "Write the served certificate here (for --ca-file)");
    app.add_option("--faults", a.faults_file, "JSON fault rules {\"seed\", \"rules\": [...]}")->check(CLI::ExistingFile);
    app.add_option("--fault", a.fault_rules,
                   "One fault rule as JSON, repeatable, e.g. '{\"route\":\"export.status\",\"kind\":\"status\",\"status\":503,\"probability\":0.1}'");
    app.add_option("--fault-seed", a.fault_seed, "Seed for probabilistic faults")->capture_default_str();
    app.add_option("--token-lifetime-s", a.token_s, "OAuth token expires_in")->capture_default_str();
    app.add_option("--data-dir", cfg.data_dir, "Where packages and uploads are kept (default: a temp dir)");
    app.add_option("--request-log", cfg.request_log, "JSON-lines request log ('-' = stderr)");
    app.add_option("--threads", cfg.threads, "I/O threads")->capture_default_str()->check(CLI::Range(1, 64));
    app.add_flag("--print-credentials", a.print_credentials, "Print each tenant's base URL and credentials");
}

void define(CLI::App& app, args& a) {
    auto& cfg = a.cfg;
    auto& fleet = a.fleet;
    fleet.tenants = 0;

    app.add_option("--address", cfg.address, "Listen address")->capture_default_str();
    app.add_option("--port", a.port, "Listen port (0 = ephemeral)")->capture_default_str();
    app.add_option("--seed", a.seed_file, "JSON seed file with tenants, folders, services, versions")->check(CLI::ExistingFile);
    app.add_option("--tenants", fleet.tenants, "Generate N source tenants with services");
    app.add_option("--target-tenants", fleet.target_tenants, "Generate N target tenants with the same empty folders");
    app.add_option("--folders", fleet.folders, "Folders per generated tenant")->capture_default_str();
    app.add_option("--services", fleet.services, "Services per generated folder")->capture_default_str();
    app.add_option("--versions", fleet.versions, "Versions per generated service")->capture_default_str();
    app.add_option("--random-seed", fleet.random_seed, "Seed for generated ids and credentials")->capture_default_str();
    app.add_option("--package-bytes", cfg.package_bytes, "Payload bytes per exported version")->capture_default_str();
    app.add_option("--inline-package-bytes", cfg.inline_package_bytes,
                   "Build packages up to this payload inside the export POST; larger ones on a background thread")
        ->capture_default_str();
    app.add_option("--upload-memory-bytes", cfg.upload_memory_bytes,
                   "Check imports in memory while the uploads held at once stay within this; past it, to a file (0: always)")
        ->capture_default_str();
    app.add_option("--job-ms", a.job_ms,
                   "Job duration in milliseconds (0: finished when created, which the official SDKs' default polling needs; "
                   "2000 exercises polling)")
        ->capture_default_str();
    app.add_option("--job-jitter", cfg.job_jitter, "Each job's duration varies by up to +- this fraction")
        ->capture_default_str()
        ->check(CLI::Range(0.0, 1.0));
    define_answers(app, a);
}

void configure(args& a) {
    auto& cfg = a.cfg;
    cfg.describe_correlation = !a.no_describe_correlation;
    cfg.port = a.port;
    cfg.job_duration = std::chrono::milliseconds(a.job_ms);
    cfg.import_job_limit = cfg.export_job_limit;
    cfg.max_upload_bytes = a.max_upload_mb * 1000 * 1000;
    cfg.download_ttl = std::chrono::seconds(a.ttl_s);
    cfg.token_lifetime = std::chrono::seconds(a.token_s);
    cfg.links = a.links == "api" ? cspark::emulator_config::link_host::api : cspark::emulator_config::link_host::store;
    cfg.store_port = a.store_port;
    if (a.profile == "uat") {
        auto jitter = cfg.job_jitter;
        cspark::apply_profile_uat(cfg);
        cfg.download_ttl = std::chrono::seconds(a.ttl_s);
        if (a.job_ms > 0) cfg.export_job_duration = cfg.import_job_duration = std::chrono::milliseconds(a.job_ms);
        if (jitter > 0) cfg.job_jitter = jitter;
    }
}

// --faults FILE, then each --fault rule.
boost::json::object fault_rules_of(const args& a) {
    boost::json::object faults{{"seed", a.fault_seed}, {"rules", boost::json::array()}};
    if (!a.faults_file.empty()) {
        std::ifstream in(a.faults_file);
        std::stringstream ss;
        ss << in.rdbuf();
        boost::system::error_code json_ec;
        auto doc = boost::json::parse(ss.str(), json_ec);
        if (json_ec || !doc.is_object()) throw std::invalid_argument("--faults: '" + a.faults_file + "' is not a JSON object");
        faults = doc.get_object();
    }
    for (const auto& rule : a.fault_rules) {
        boost::system::error_code json_ec;
        auto r = boost::json::parse(rule, json_ec);
        if (json_ec) throw std::invalid_argument("--fault: '" + rule + "' is not JSON");
        if (!faults["rules"].is_array()) faults["rules"] = boost::json::array();
        faults["rules"].as_array().push_back(r);
    }
    return faults;
}

void announce(const cspark::emulator& emu, bool print_credentials) {
    std::cout << "cspark-emulator listening on " << emu.url() << std::endl;
    for (const auto& c : emu.credentials()) {
        std::cout << "tenant " << c.tenant << " " << emu.base_url(c.tenant);
        if (print_credentials)
            std::cout << " api_key=" << c.api_key << " bearer_token=" << c.bearer_token
                      << " client_id=" << c.client_id << " client_secret=" << c.client_secret;
        std::cout << "\n";
    }
    // After the tenants: readers of the lines above stop at the last tenant.
    if (emu.store_port() != 0) std::cout << "document store (download links) on port " << emu.store_port() << "\n";
    std::cout.flush();

}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"cspark-emulator: a local Coherent Spark ImpEx server (export/import jobs, OAuth, downloads)"};
    args a;
    define(app, a);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? 0 : 2;  // --help: 0; any usage error: 2, as cspark-impex
    }
    configure(a);
    try {
        asio::io_context io(static_cast<int>(a.cfg.threads));
        cspark::emulator emu(io.get_executor(), a.cfg);
        if (!a.seed_file.empty()) emu.load_seed_file(a.seed_file);
        if (a.fleet.tenants + a.fleet.target_tenants > 0) emu.generate(a.fleet);
        if (a.seed_file.empty() && a.fleet.tenants + a.fleet.target_tenants == 0) {
            a.fleet.tenants = 1;
            emu.generate(a.fleet);
        }
        emu.set_faults(fault_rules_of(a));
        emu.start();
        // Signals are caught before the address is announced: a supervisor that
        // stops us as soon as it reads the line gets a clean exit, not a kill.
        asio::signal_set signals(io, SIGINT, SIGTERM);
        signals.async_wait([&](const boost::system::error_code& ec, int) {
            if (ec) return;
            std::cerr << "cspark-emulator: stopping" << std::endl;
            emu.stop();
            io.stop();
        });
        announce(emu, a.print_credentials);
        std::vector<std::thread> threads;
        for (std::size_t i = 1; i < a.cfg.threads; ++i) threads.emplace_back([&] { io.run(); });
        io.run();
        for (auto& t : threads) t.join();
    } catch (const cspark::spark_error& e) {
        std::cerr << "cspark-emulator: " << e.diag().detail << std::endl;
        return 2;
    } catch (const std::exception& e) {
        std::cerr << "cspark-emulator: " << e.what() << std::endl;
        return 2;
    }
    return 0;
}
