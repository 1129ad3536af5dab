// cspark_impex._engine: the C++ engine under the Python package. One I/O
// thread per process runs every client's flows (one io_context); each call
// returns an `operation` the caller waits on (the GIL released) or is
// notified of (asyncio: the loop's call_soon_threadsafe). Requests arrive as
// dicts, results leave as JSON text: the Python layer (cspark_impex/*.py)
// gives them the official SDK's names and shapes.
#include "binding.hpp"

#include <pybind11/functional.h>
#include <pybind11/stl.h>

namespace py = pybind11;
namespace json = boost::json;

PYBIND11_MODULE(_engine, m) {
    using namespace cspark::python;
    m.doc() = "The cspark-impex C++ engine (internal: use the cspark_impex package)";
    // A failure before any flow (a client's configuration): the Python layer
    // raises its SparkError subclass from (error name, message, diagnostics).
    static py::exception<cspark::spark_error> engine_error(m, "EngineError");
    py::register_exception_translator([](std::exception_ptr p) {
        try {
            if (p) std::rethrow_exception(p);
        } catch (const cspark::spark_error& e) {
            auto args = py::make_tuple(std::string(cspark::error_name(e.code())), e.code().message(),
                                       json::serialize(to_json(e.diag())));
            PyErr_SetObject(engine_error.ptr(), args.ptr());
        }
    });
    py::class_<runtime, std::shared_ptr<runtime>>(m, "Runtime")
        .def(py::init<>())
        .def("stop", &runtime::stop, py::call_guard<py::gil_scoped_release>());
    py::class_<operation, std::shared_ptr<operation>>(m, "Operation")
        .def("wait", &operation::wait, py::arg("seconds"))
        .def("done", &operation::done)
        .def("take_progress", &operation::take_progress)
        .def("outcome", &operation::outcome)
        .def("take_results", &operation::take_results)
        .def("cancel", &operation::cancel)
        .def("set_notify", &operation::set_notify);
    py::class_<client_handle>(m, "Client")
        .def(py::init<std::shared_ptr<runtime>, const py::dict&>())
        .def("exp", &client_handle::exp)
        .def("imp", &client_handle::imp)
        .def("migrate", &client_handle::migrate)
        .def("status", &client_handle::status)
        .def("describe", &client_handle::describe)
        .def("initiate_export", &client_handle::initiate_export)
        .def("initiate_import", &client_handle::initiate_import)
        .def("cancel_export", &client_handle::cancel_export)
        .def("download", &client_handle::download)
        .def_property_readonly("base_url", &client_handle::base_url)
        .def_property_readonly("tenant", &client_handle::tenant)
        .def("take_logs", &client_handle::take_logs);
    m.def("migrate_fleet", &migrate_fleet, py::arg("runtime"), py::arg("entries"), py::arg("options"), py::arg("journal"));
}
