// The two kinds of ImpEx job, typed: the engine, the driver and the fleet
// pass this, and spell it only where the API or a person reads it.
#pragma once

#include <cstdint>
#include <string>

namespace cspark::detail {

enum class job_kind : std::uint8_t { export_job, import_job };

/// "export" / "import": the API's path segment and the word in messages.
inline std::string kind_name(job_kind k) { return k == job_kind::export_job ? "export" : "import"; }

inline job_kind other_kind(job_kind k) { return k == job_kind::export_job ? job_kind::import_job : job_kind::export_job; }

}  // namespace cspark::detail
