// Between Python's values and the library's: requests from dicts (the
// Python layer has checked and normalised them), results to JSON.
#pragma once

#include <cspark/config.hpp>
#include <cspark/fleet.hpp>
#include <cspark/impex.hpp>
#include <cspark/progress.hpp>

#include <boost/json/value.hpp>

#include <pybind11/pybind11.h>

namespace cspark::python {

client_config client_config_of(const pybind11::dict& d);
poll_options poll_options_of(const pybind11::dict& d);
export_request export_request_of(const pybind11::dict& d, progress_fn progress);
import_request import_request_of(const pybind11::dict& d, progress_fn progress);
migrate_request migrate_request_of(const pybind11::dict& d, progress_fn progress);
download_options download_options_of(const pybind11::dict& d, progress_fn progress);

/// A checkpoint as a journal line keeps it (times as Unix milliseconds), and back.
boost::json::value to_json(const migration_checkpoint& c);
migration_checkpoint checkpoint_of(const pybind11::dict& d);

boost::json::value to_json(const diagnostics& d);
boost::json::value to_json(const job_status& j);
boost::json::value to_json(const downloaded_file& f);
boost::json::value to_json(const export_result& r);
boost::json::value to_json(const import_result& r);
boost::json::value to_json(const migration_result& m);
boost::json::value to_json(const progress_event& e);

inline diagnostics diag_of(const job_status& j) { return j.diag; }
inline diagnostics diag_of(const downloaded_file& f) { return f.diag; }
inline diagnostics diag_of(const boost::json::value&) { return {}; }

}  // namespace cspark::python
