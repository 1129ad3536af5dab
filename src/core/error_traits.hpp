// Internal: what each errc means to the flows, in one table. Every predicate
// that sorts errors (retry before send, may a status check pass if asked
// again, may a POST have been acted on, is the outcome known, may one entry
// of a combined job be at fault, does a download resume) reads this table,
// so a new errc is classified once, in one row, for all of them.
#pragma once

#include <cspark/error.hpp>

namespace cspark::detail {

struct errc_traits {
    bool before_send = false;    ///< nothing reached the server: any request may be sent again
    bool check_may_pass = false; ///< a status check failing so may pass if asked again
    bool may_have_reached = false;  ///< a POST failing so may have been acted on: look before resending
    bool unknown_outcome = false;   ///< a flow ending so has no known outcome: resume it, never start over
    bool entry_at_fault = false;    ///< a combined job failing so may be one entry's fault: split it
    bool transfer_dropped = false;  ///< a download failing so goes on from the bytes held
};

/// The row of `ec` (errors of other categories: raw socket errors, whose
/// status check may pass and nothing else).
errc_traits traits_of(error_code ec) noexcept;

}  // namespace cspark::detail
