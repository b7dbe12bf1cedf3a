// The Telegram webhook end to end: secret and shape checks, exactly-once
// processing across two processes, a restart that loses nothing, and
// queued updates committed together (helpers and fakes:
// telegram_world.hpp).
#define BOOST_TEST_MODULE telegram_webhook_test
#include <boost/test/unit_test.hpp>
#include <pqxx/pqxx>

#include "integration/telegram_world.hpp"

using namespace miyabi::test::telegram_world;

// =============================================================================

BOOST_AUTO_TEST_SUITE(webhook)

BOOST_AUTO_TEST_CASE(
  every_rejection_answers_in_the_documented_order_and_records_nothing) {
  auto& w = world();
  bot_client bot{*w.main, webhook_secret}; // raw() sends no secret
  const header_pairs json = {{"Content-Type", "application/json"}};
  auto with_secret = [](header_pairs h, const std::string& value) {
    h.emplace_back("X-Telegram-Bot-Api-Secret-Token", value);
    return h;
  };
  std::vector<int64_t> refused;
  auto refused_update = [&](int64_t chat = authorized(1)) {
    auto id = next_update();
    refused.push_back(id);
    return message_update(id, chat, "/help");
  };

  // 405 before anything else: no secret, any body.
  auto r = bot.raw("GET", {}, {});
  BOOST_TEST(r.status == 405);
  BOOST_TEST(error_code(r) == "method_not_allowed");
  BOOST_TEST(contains(r.header("Allow"), "POST"));
  r = bot.raw("GET", {}, with_secret({}, webhook_secret));
  BOOST_TEST(r.status == 405);
  r = bot.raw("PUT", refused_update(), json);
  BOOST_TEST(r.status == 405);

  // 401: missing, wrong, a prefix, one character more; the body is not
  // looked at before the secret (garbage of any type is still 401).
  for (const auto& h :
       {json, with_secret(json, "wrong-secret"),
        with_secret(json, webhook_secret.substr(0, webhook_secret.size() - 1)),
        with_secret(json, webhook_secret.substr(0, 6)),
        with_secret(json, webhook_secret + "x")}) {
    r = bot.raw("POST", refused_update(), h);
    BOOST_TEST(r.status == 401);
    BOOST_TEST(error_code(r) == "authentication_error");
  }
  r = bot.raw("POST", "not json at all", {{"Content-Type", "text/plain"}});
  BOOST_TEST(r.status == 401);
  r = bot.raw("POST", R"({"update_id":)", json);
  BOOST_TEST(r.status == 401);

  // The right value under a lower-case header name is accepted.
  auto accepted = next_update();
  r = bot.raw("POST", message_update(accepted, authorized(1), "/help"),
              {{"content-type", "application/json"},
               {"x-telegram-bot-api-secret-token", webhook_secret}});
  BOOST_TEST(r.status == 200);
  expect_message(to_reply(r), authorized(1), {"/getid"}, "lower-case header");

  // 415 (also before a malformed body, and without any content type).
  r = bot.raw("POST", refused_update(),
              with_secret({{"Content-Type", "text/plain"}}, webhook_secret));
  BOOST_TEST(r.status == 415);
  BOOST_TEST(error_code(r) == "unsupported_media_type");
  r = bot.raw("POST", "{broken",
              with_secret({{"Content-Type", "text/plain"}}, webhook_secret));
  BOOST_TEST(r.status == 415);
  r =
    bot.raw("POST", refused_update(),
            with_secret({{"Content-Type", "application/x-www-form-urlencoded"}},
                        webhook_secret));
  BOOST_TEST(r.status == 415);
  r = bot.raw("POST", refused_update(),
              with_secret({{"Content-Type", "application/json; charset=utf-8"}},
                          webhook_secret));
  BOOST_TEST(r.status == 200); // parameters do not change the type
  refused.pop_back();

  // 400: malformed JSON.
  for (const std::string body :
       {R"({"update_id":)", "{broken", R"({"update_id":1,})"}) {
    r = bot.post(body);
    BOOST_TEST(r.status == 400, body << " -> " << r.status);
    BOOST_TEST(error_code(r) == "validation_error");
  }

  // 422 naming the field.
  struct shape_case {
    std::string body;
    std::string field;
  };
  auto id = [&] {
    auto i = next_update();
    refused.push_back(i);
    return std::to_string(i);
  };
  const std::vector<shape_case> shapes = {
    {"{}", "update_id"},
    {"[1,2]", ""},
    {R"({"update_id":")" + id() + R"("})", "update_id"},
    {R"({"update_id":)" + id() + R"(.5})", "update_id"},
    {R"({"update_id":null})", "update_id"},
    {R"({"update_id":)" + id() +
       R"(,"message":{"date":1,"chat":{"id":1001},"text":"/help"}})",
     "message_id"},
    {R"({"update_id":)" + id() +
       R"(,"message":{"message_id":1,"chat":{"id":1001},"text":"/help"}})",
     "date"},
    {R"({"update_id":)" + id() +
       R"(,"message":{"message_id":1,"date":1,"chat":{"type":"private"},"text":"/help"}})",
     "chat.id"},
    {R"({"update_id":)" + id() +
       R"(,"message":{"message_id":1,"date":1,"chat":{"id":"1001"},"text":"/help"}})",
     "chat.id"},
    {R"({"update_id":)" + id() +
       R"(,"message":{"message_id":1,"date":1,"text":"/help"}})",
     "chat"},
    {R"({"update_id":)" + id() + R"(,"message":"hello"})", "message"},
  };
  for (const auto& s : shapes) {
    r = bot.post(s.body);
    BOOST_TEST(r.status == 422, s.body << " -> " << r.status << " " << r.body);
    BOOST_TEST(error_code(r) == "unprocessable_entity");
    BOOST_TEST(contains(error_details(r), s.field),
               s.body << " -> details: " << error_details(r));
  }

  // Nothing refused was recorded; the accepted update was.
  std::string list;
  for (auto i : refused)
    list += (list.empty() ? "" : ",") + std::to_string(i);
  BOOST_TEST(query_int(w.main_db, "SELECT count(*) FROM telegram_updates WHERE "
                                  "update_id IN (" +
                                    list + ")") == 0);
  BOOST_TEST(query_int(w.main_db, "SELECT count(*) FROM telegram_updates WHERE "
                                  "update_id = " +
                                    std::to_string(accepted)) == 1);

  // Unknown update kinds: 200 {"ok":true}.
  for (
    const std::string kind :
    {R"("edited_channel_post":{"message_id":5,"date":1,"chat":{"id":-100999,"type":"channel"},"text":"edited"})",
     R"("poll":{"id":"p1","question":"lunch?","options":[],"is_closed":false})",
     R"("my_chat_member":{"chat":{"id":1001},"date":1})"}) {
    r = bot.post(R"({"update_id":)" + std::to_string(next_update()) + "," +
                 kind + "}");
    BOOST_TEST(r.status == 200);
    BOOST_TEST(r.body == R"({"ok":true})");
  }
  // A message without text (a sticker): nothing to say.
  r = bot.post(R"({"update_id":)" + std::to_string(next_update()) +
               R"(,"message":{"message_id":9,"date":1,"chat":{"id":1001},)"
               R"("sticker":{"file_id":"x"}}})");
  BOOST_TEST(r.status == 200);
  BOOST_TEST(r.body == R"({"ok":true})");

  // Unknown fields everywhere are ignored.
  r = bot.post(
    R"({"update_id":)" + std::to_string(next_update()) +
    R"(,"future_field":{"x":[1,2,{"y":null}]},"message":{"message_id":1,)"
    R"("date":1767312000,"chat":{"id":9001,"type":"private","extra":true},)"
    R"("from":{"id":9001,"is_bot":false,"first_name":"Hana","is_premium":true,)"
    R"("added_to_attachment_menu":false},"text":"/getid","entities":)"
    R"([{"type":"bot_command","offset":0,"length":6}],)"
    R"("link_preview_options":{"is_disabled":true}}})");
  BOOST_TEST(r.status == 200);
  expect_message(to_reply(r), stranger(1), {"9001", "Hana"}, "extra fields");
}

BOOST_AUTO_TEST_SUITE_END()

// =============================================================================

BOOST_AUTO_TEST_SUITE(exactly_once)

BOOST_AUTO_TEST_CASE(
  one_update_posted_fifty_times_to_two_processes_is_processed_once) {
  auto& w = world();
  auto& second = w.start(w.main_env());
  const service_process* targets[2] = {w.main, &second};

  // Posts `body` n times at once, alternating between the two processes.
  auto storm = [&](const std::string& body, int n) {
    std::vector<http_response> answers(static_cast<size_t>(n));
    std::atomic<int> ready{0};
    std::atomic<bool> go{false};
    {
      thread_group threads;
      for (int i = 0; i < n; ++i)
        threads.spawn([&, i] {
          bot_client client{*targets[i % 2], webhook_secret};
          ++ready;
          while (!go)
            std::this_thread::yield();
          answers[static_cast<size_t>(i)] = client.post(body);
        });
      while (ready < n)
        std::this_thread::yield();
      go = true;
      threads.wait();
    }
    return answers;
  };

  const auto chat = authorized(2);
  const auto id = next_update();
  auto answers = storm(message_update(id, chat, "/getid"), 50);
  int replies = 0, ok = 0, other = 0;
  for (const auto& a : answers) {
    auto r = to_reply(a);
    if (a.status != 200)
      ++other;
    else if (r.method == "sendMessage" && r.chat_id == chat &&
             contains(r.text, "Chat ID: 1002"))
      ++replies;
    else if (r.ok_only)
      ++ok;
    else
      ++other;
  }
  BOOST_TEST(replies == 1);
  BOOST_TEST(ok == 49);
  BOOST_TEST(other == 0);
  BOOST_TEST(query_int(w.main_db, "SELECT count(*) FROM telegram_updates WHERE "
                                  "update_id = " +
                                    std::to_string(id)) == 1);

  // /issue posted 20 times at once: one task, one issue, one result.
  const auto issue_chat = authorized(3);
  const auto issue_id = next_update();
  const auto title = "Race issue " + std::to_string(issue_id);
  answers = storm(message_update(issue_id, issue_chat, "/issue " + title), 20);
  replies = ok = other = 0;
  for (const auto& a : answers) {
    auto r = to_reply(a);
    if (a.status == 200 && r.method == "sendMessage" &&
        contains(r.text, "Creating the issue"))
      ++replies;
    else if (a.status == 200 && r.ok_only)
      ++ok;
    else
      ++other;
  }
  BOOST_TEST(replies == 1);
  BOOST_TEST(ok == 19);
  BOOST_TEST(other == 0);
  BOOST_REQUIRE(wait_deliveries(issue_chat, 1, 15s));
  BOOST_TEST(outbox_rows(w.main_db, issue_chat, "kind = 'create_issue'") == 1);
  BOOST_TEST(issues_titled(title).size() == 1u);
  BOOST_TEST(deliveries(issue_chat).size() == 1u);

  // Stop the second sender before anything else measures pacing.
  second.signal(SIGTERM);
  BOOST_TEST(second.wait_exit(15s).value_or(-1) == 0);

  // Telegram-only mode: a window in memory.
  const auto solo_id = next_update();
  const auto solo_body = message_update(solo_id, chat, "/getid");
  std::vector<http_response> solo_answers(10);
  auto& solo_process = w.solo(); // started before the threads use it
  {
    thread_group threads;
    for (size_t i = 0; i < solo_answers.size(); ++i)
      threads.spawn([&, i] {
        bot_client client{solo_process};
        solo_answers[i] = client.post(solo_body);
      });
    threads.wait();
  }
  replies = ok = 0;
  for (const auto& a : solo_answers) {
    auto r = to_reply(a);
    replies += a.status == 200 && r.method == "sendMessage";
    ok += a.status == 200 && r.ok_only;
  }
  BOOST_TEST(replies == 1);
  BOOST_TEST(ok == 9);
  bot_client solo{solo_process};
  auto again = solo.post(solo_body);
  BOOST_TEST(again.status == 200);
  BOOST_TEST(again.body == R"({"ok":true})");
}

BOOST_AUTO_TEST_SUITE_END()

// =============================================================================

BOOST_AUTO_TEST_SUITE(restart)

BOOST_AUTO_TEST_CASE(pending_rows_are_sent_after_a_restart_with_the_token) {
  auto& w = world();
  // Normally stopped by the token-less case; stop it here when that case
  // did not run.
  if (!w.tokenless->wait_exit(0ms)) {
    w.tokenless->signal(SIGTERM);
    BOOST_REQUIRE(w.tokenless->wait_exit(15s).has_value());
  }
  BOOST_TEST(query_int(w.restart_db, "SELECT count(*) FROM telegram_outbox "
                                     "WHERE state = 'pending'") == 3);
  auto due_in =
    query_int(w.restart_db, "SELECT GREATEST(0, CEIL(EXTRACT(EPOCH FROM "
                            "max(next_attempt_at) - now())))::bigint FROM "
                            "telegram_outbox WHERE state = 'pending'");
  BOOST_TEST_MESSAGE("restart: the held rows are due in " << due_in << " s");
  auto env = w.tokenless_env();
  env["TELEGRAM_BOT_TOKEN"] = bot_token;
  auto started = steady::now();
  w.start(env);
  BOOST_TEST(eventually(
    [] {
      return deliveries(restart_chat_a).size() >= 2 &&
             deliveries(restart_chat_b).size() >= 1;
    },
    std::chrono::seconds{due_in + 10}));
  BOOST_TEST_MESSAGE("restart: delivered "
                     << ms_between(started, steady::now())
                     << " ms after the start with the token");
  auto a = deliveries(restart_chat_a);
  BOOST_REQUIRE_EQUAL(a.size(), 2u);
  BOOST_TEST(a[0].text == "queued while tokenless 1");
  BOOST_TEST(a[1].text == "queued while tokenless 2");
  BOOST_TEST(deliveries(restart_chat_b).size() == 1u);
  BOOST_TEST(eventually(
    [&] {
      return query_int(w.restart_db, "SELECT count(*) FROM telegram_outbox "
                                     "WHERE state = 'sent'") == 3;
    },
    5s));
}

BOOST_AUTO_TEST_SUITE_END()

// =============================================================================

BOOST_AUTO_TEST_SUITE(shared_commit)

namespace {

/// A full-mode process with two database sessions on a database of its own,
/// so the tests can hold both sessions and watch the queue fill.
struct grouping_service {
  std::string db = create_database();
  service_process& svc = [this]() -> service_process& {
    auto env = world().main_env();
    env["DATABASE_URL"] = db;
    env["DB_POOL_SIZE"] = "2";
    env["LOG_LEVEL"] = "info";
    return world().start(env);
  }();

  grouping_service() {
    BOOST_REQUIRE(eventually(
      [this] {
        return health_status(svc) == 200 &&
               query_int(db, "SELECT count(*) FROM information_schema.tables"
                             " WHERE table_name = 'telegram_updates'") == 1;
      },
      15s));
  }

  double metric_now(const std::string& series) const {
    return std::max(0.0, metric(svc, series));
  }

  /// Posts each body on its own thread; the answers, in order, once all
  /// threads are done.
  class burst {
   public:
    burst(const service_process& svc, std::vector<std::string> bodies)
        : answers_(bodies.size()) {
      for (size_t i = 0; i < bodies.size(); ++i)
        threads_.spawn([this, &svc, i, body = std::move(bodies[i])] {
          bot_client client{svc, webhook_secret};
          answers_[i] = client.post(body);
        });
    }
    std::vector<http_response>& wait() {
      threads_.wait();
      return answers_;
    }

   private:
    std::vector<http_response> answers_;
    thread_group threads_;
  };

  /// Updates waiting on row locks of this database (held by an open
  /// transaction of the test's own).
  long long lock_waiters() const {
    return query_int(db, "SELECT count(*) FROM pg_stat_activity"
                         " WHERE datname = current_database()"
                         " AND wait_event_type = 'Lock'");
  }

  /// Two updates whose ids `holder` has inserted and not committed: each
  /// occupies a session until `holder` ends. Posted one at a time, each
  /// once the one before waits on its lock in a session of its own: "two
  /// sessions busy" alone could count the outbox's background lease, and a
  /// blocker still queued would join the group under test.
  std::vector<std::unique_ptr<burst>> occupy_both_sessions(pqxx::work& holder) {
    std::vector<std::unique_ptr<burst>> blockers;
    for (int i = 0; i < 2; ++i) {
      auto id = next_update();
      holder.exec("INSERT INTO telegram_updates (update_id) VALUES (" +
                  std::to_string(id) + ")");
      blockers.push_back(std::make_unique<burst>(
        svc,
        std::vector<std::string>{message_update(id, authorized(1), "/getid")}));
      BOOST_REQUIRE(eventually([&] { return lock_waiters() == i + 1; }, 10s));
    }
    return blockers;
  }

  /// Until `updates` posted updates wait in the pool's queue behind the two
  /// held sessions. The service's own background jobs (the outbox's lease
  /// every 500 ms) may wait there too, so the queue's depth alone cannot
  /// tell: every update must also have reached the service (in flight: the
  /// two blockers, the updates and this scrape).
  void await_queue(size_t updates) {
    auto n = static_cast<double>(updates);
    BOOST_REQUIRE(eventually(
      [&] {
        auto scrape = scrape_metrics(svc).body;
        return metric_value(scrape, "http_requests_in_flight") >= n + 3 &&
               metric_value(scrape, "miyabi_db_queue_depth") >= n;
      },
      10s));
  }
};

bool is_getid_reply(const http_response& r, int64_t chat) {
  auto reply = to_reply(r);
  return r.status == 200 && reply.method == "sendMessage" &&
         reply.chat_id == chat && contains(reply.text, std::to_string(chat));
}

/// `n` /getid updates of one chat with fresh ids, but `special` (when not
/// zero) as the id of the one at `at`.
struct getid_updates {
  std::vector<int64_t> ids;
  std::vector<std::string> bodies;

  explicit getid_updates(size_t n, size_t at = 0, int64_t special = 0) {
    for (size_t i = 0; i < n; ++i) {
      ids.push_back(special != 0 && i == at ? special : next_update());
      bodies.push_back(message_update(ids.back(), authorized(1), "/getid"));
    }
  }

  /// How many of them the database recorded.
  long long recorded(const std::string& db) const {
    std::string list;
    for (auto id : ids)
      list += (list.empty() ? "" : ",") + std::to_string(id);
    return query_int(db, "SELECT count(*) FROM telegram_updates WHERE "
                         "update_id IN (" +
                           list + ")");
  }
};

} // namespace

BOOST_AUTO_TEST_CASE(queued_updates_commit_together_and_each_gets_its_reply) {
  grouping_service g;
  auto groups_before = g.metric_now("miyabi_db_group_jobs_count");
  auto grouped_before = g.metric_now("miyabi_db_group_jobs_sum");
  auto retries_before = g.metric_now("miyabi_db_group_retries_total");
  pqxx::connection conn{g.db};
  pqxx::work holder{conn};
  auto blockers = g.occupy_both_sessions(holder);

  getid_updates updates{40};
  grouping_service::burst queued{g.svc, updates.bodies};
  g.await_queue(40);
  holder.abort(); // the blockers go on; then the queue

  for (auto& blocker : blockers)
    for (const auto& r : blocker->wait())
      BOOST_TEST(is_getid_reply(r, authorized(1)));
  for (const auto& r : queued.wait()) {
    BOOST_TEST_INFO(r.status << " " << r.body);
    BOOST_TEST(is_getid_reply(r, authorized(1)));
  }
  BOOST_TEST(updates.recorded(g.db) == 40);
  // 40 jobs in groups of at most 32: at least two commits held them all.
  BOOST_TEST(g.metric_now("miyabi_db_group_jobs_count") - groups_before >= 2);
  BOOST_TEST(g.metric_now("miyabi_db_group_jobs_sum") - grouped_before == 40);
  BOOST_TEST(g.metric_now("miyabi_db_group_retries_total") == retries_before);

  // Delivered again, each is a duplicate: answered without a reply.
  bot_client bot{g.svc, webhook_secret};
  auto again = bot.post(updates.bodies.front());
  BOOST_TEST(again.status == 200);
  BOOST_TEST(again.body == R"({"ok":true})");
}

BOOST_AUTO_TEST_CASE(
  a_failing_update_fails_alone_and_its_group_commits_without_it) {
  grouping_service g;
  auto poisoned = next_update();
  // The database refuses this one update (as a broken row would).
  exec_sql(g.db, "CREATE FUNCTION refuse_update() RETURNS trigger"
                 " LANGUAGE plpgsql AS $$ BEGIN IF NEW.update_id = " +
                   std::to_string(poisoned) +
                   " THEN RAISE EXCEPTION 'refused'; END IF;"
                   " RETURN NEW; END $$;"
                   " CREATE TRIGGER refuse_update BEFORE INSERT ON"
                   " telegram_updates FOR EACH ROW EXECUTE FUNCTION"
                   " refuse_update()");
  auto retries_before = g.metric_now("miyabi_db_group_retries_total");
  pqxx::connection conn{g.db};
  pqxx::work holder{conn};
  auto blockers = g.occupy_both_sessions(holder);

  getid_updates updates{20, 7, poisoned};
  grouping_service::burst queued{g.svc, updates.bodies};
  g.await_queue(20);
  holder.abort();
  for (auto& blocker : blockers)
    blocker->wait();

  auto& answers = queued.wait();
  for (size_t i = 0; i < answers.size(); ++i) {
    BOOST_TEST_INFO("update " << updates.ids[i] << ": " << answers[i].status
                              << " " << answers[i].body);
    if (i == 7)
      BOOST_TEST(answers[i].status >= 500); // Telegram delivers it again
    else
      BOOST_TEST(is_getid_reply(answers[i], authorized(1)));
  }
  BOOST_TEST(updates.recorded(g.db) == 19);
  BOOST_TEST(g.metric_now("miyabi_db_group_retries_total") - retries_before >=
             1);
}

BOOST_AUTO_TEST_CASE(
  a_waiting_update_does_not_hold_its_group_past_the_group_timeout) {
  grouping_service g;
  // `slow` waits for a lock of the test's (as a slow statement would); its
  // companions must not wait with it until its deadline (15 s).
  auto slow = next_update();
  pqxx::connection slow_conn{g.db};
  pqxx::work slow_holder{slow_conn};
  slow_holder.exec("INSERT INTO telegram_updates (update_id) VALUES (" +
                   std::to_string(slow) + ")");
  pqxx::connection conn{g.db};
  pqxx::work holder{conn};
  auto blockers = g.occupy_both_sessions(holder);

  getid_updates updates{20, 3, slow};
  auto others = updates.bodies;
  others.erase(others.begin() + 3);
  grouping_service::burst slow_one{g.svc, {updates.bodies[3]}};
  grouping_service::burst queued{g.svc, others};
  g.await_queue(20);
  auto released = steady::now();
  holder.abort();
  for (auto& blocker : blockers)
    blocker->wait();

  auto& answers = queued.wait();
  auto waited = ms_between(released, steady::now());
  BOOST_TEST_MESSAGE("shared commit: 19 companions of a waiting update "
                     "answered "
                     << waited << " ms after the sessions were free");
  for (const auto& r : answers)
    BOOST_TEST(is_getid_reply(r, authorized(1)));
  // The group gives up after 250 ms; the rest run alone on the other
  // session. 5 s leaves room for a sanitizer build and stays a third of
  // the deadline the slow update would have held them to.
  BOOST_TEST(waited < 5000);
  BOOST_TEST(g.metric_now("miyabi_db_group_retries_total") >= 1);

  slow_holder.abort(); // now it goes through, alone
  auto& slow_answer = slow_one.wait();
  BOOST_TEST(is_getid_reply(slow_answer.front(), authorized(1)));
  BOOST_TEST(updates.recorded(g.db) == 20);
}

BOOST_AUTO_TEST_SUITE_END()
