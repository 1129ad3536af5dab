// The fleet's scheduler as pure code: who runs next, the fallback, requeued
// parts, and what a failed combined task becomes.
#include "impex/scheduler.hpp"

#include <doctest/doctest.h>

#include <boost/json/parse.hpp>

#include <set>

using namespace cspark;
using namespace cspark::detail;

namespace {

fleet_task task_of(std::vector<std::size_t> members, std::string slot) {
    fleet_task t;
    t.members = std::move(members);
    t.slot = std::move(slot);
    t.import_slot = "import " + t.slot;
    return t;
}

}  // namespace

TEST_CASE("scheduler: the first task whose tenant is free runs; none waits behind a busy tenant") {
    fleet_scheduler s;
    s.enqueue(task_of({0}, "export a"));
    s.enqueue(task_of({1}, "export a"));
    s.enqueue(task_of({2}, "export b"));
    std::set<std::string> busy;
    auto is_busy = [&](const std::string& slot) { return busy.count(slot) > 0; };
    auto first = s.take(is_busy);
    REQUIRE(first);
    CHECK(first->members == std::vector<std::size_t>{0});
    busy.insert("export a");  // task 0's export runs
    auto second = s.take(is_busy);
    REQUIRE(second);
    CHECK(second->members == std::vector<std::size_t>{2});  // b's, past a's second task
    busy.insert("export b");
    CHECK_FALSE(s.take(is_busy));  // both tenants busy, tasks run that will free them: wait
    CHECK(s.running() == 2);
    CHECK(s.queued() == 1);
    busy.erase("export a");
    s.finished();
    auto third = s.take(is_busy);
    REQUIRE(third);
    CHECK(third->members == std::vector<std::size_t>{1});
    s.finished();
    s.finished();
    CHECK(s.done());
    CHECK_FALSE(s.take(is_busy));  // nothing left
}

TEST_CASE("scheduler: when nothing runs, the first task is taken whatever its slot; split parts go first") {
    fleet_scheduler s;
    s.enqueue(task_of({0}, "export a"));
    s.enqueue(task_of({1}, "export b"));
    auto all_busy = [](const std::string&) { return true; };  // slots held outside the fleet
    auto t = s.take(all_busy);
    REQUIRE(t);  // nothing runs that could free a slot: no deadlock
    CHECK(t->members == std::vector<std::size_t>{0});
    CHECK_FALSE(s.take(all_busy));  // one runs now: the rest waits for it
    s.enqueue(task_of({7}, "export a"), true);  // a split task's part
    s.finished();
    auto next = s.take(all_busy);
    REQUIRE(next);
    CHECK(next->members == std::vector<std::size_t>{7});
    auto free = [](const std::string&) { return false; };
    s.finished();
    auto last = s.take(free);
    REQUIRE(last);
    CHECK(last->members == std::vector<std::size_t>{1});
    // A task without a source (no slot) is never held back.
    fleet_scheduler n;
    n.enqueue(task_of({3}, ""));
    n.enqueue(task_of({4}, "export a"));
    n.take(free);
    REQUIRE(n.take(all_busy).has_value() == false);
    fleet_scheduler m;
    m.enqueue(task_of({4}, "export a"));
    m.enqueue(task_of({3}, ""));
    m.take(free);  // 4 runs
    auto slotless = m.take(all_busy);
    REQUIRE(slotless);
    CHECK(slotless->members == std::vector<std::size_t>{3});
}

TEST_CASE("parts_after: a combined task's failure splits it only when one member may be at fault") {
    std::vector<std::size_t> members{10, 11, 12, 13};
    std::vector<std::vector<std::string>> names{{"f/a"}, {"f/b"}, {"f/c"}, {"f/d"}};
    migration_result m;
    m.ec = errc::not_found;
    m.diag.detail = "service 'f/c' was not found";
    auto parts = parts_after(m, members, names);
    REQUIRE(parts.size() == 2);
    CHECK(parts[0] == std::vector<std::size_t>{12});  // the named member alone
    CHECK(parts[1] == std::vector<std::size_t>{10, 11, 13});
    SUBCASE("a failure naming nobody: halves") {
        m.diag.detail = "the job failed";
        m.ec = errc::job_failed;
        parts = parts_after(m, members, names);
        REQUIRE(parts.size() == 2);
        CHECK(parts[0] == std::vector<std::size_t>{10, 11});
    }
    SUBCASE("a failure every member would meet: no split") {
        m.ec = errc::unauthorized;
        CHECK(parts_after(m, members, names).empty());
        m.ec = errc::import_outcome_unknown;
        CHECK(parts_after(m, members, names).empty());
    }
    SUBCASE("an import that failed without errors, or behind an error document, may have imported: no split") {
        m.ec = errc::job_failed;
        import_result imp;
        imp.job.state = job_state::failed;
        imp.job.errors = boost::json::parse("[]");
        m.imported.push_back(imp);
        CHECK(parts_after(m, members, names).empty());
        m.imported.back().job.errors = boost::json::parse(R"([{"message":"service 'f/c' is invalid"}])");
        CHECK(parts_after(m, members, names).size() == 2);  // errors listed: it imported nothing
        m.imported.back().job.error_envelope = true;
        CHECK(parts_after(m, members, names).empty());
    }
    SUBCASE("success, or one member: nothing to split") {
        CHECK(parts_after(m, {10}, {{"f/a"}}).empty());
        m.ec = {};
        CHECK(parts_after(m, members, names).empty());
    }
}
