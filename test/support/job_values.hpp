// Job documents as the engine's tests feed them (no server: values).
#pragma once

#include <cspark/job.hpp>

#include <string>
#include <utility>

namespace cspark::test {

inline job_status job(std::string id, std::string status, job_state state = job_state::pending) {
    job_status j;
    j.id = std::move(id);
    j.status = std::move(status);
    j.state = state;
    return j;
}

}  // namespace cspark::test
