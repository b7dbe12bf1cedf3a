#include "domain/bot.hpp"

#include <algorithm>
#include <cctype>
#include <variant>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "base/text.hpp"
#include "base/utf8.hpp"
#include "domain/rules.hpp"

namespace miyabi::domain {

bot_backend::~bot_backend() = default;

namespace {

/// Longest /issue title kept, in bytes.
constexpr size_t max_issue_title = 256;

std::string text_trim(std::string_view s) {
  return std::string{trim(s, " \t\r\n")};
}

/// Picks the English or Japanese text.
const char* tr(bool ja, const char* en, const char* jp) {
  return ja ? jp : en;
}

std::string display_name(const telegram_message& m) {
  auto name = m.first_name;
  if (!m.last_name.empty())
    name += (name.empty() ? "" : " ") + m.last_name;
  return name.empty() ? "-" : name;
}

std::string help_text(bool ja) {
  return tr(
    ja,
    "Commands:\n"
    "/getid - show this chat's id\n"
    "/status - service status and active executions\n"
    "/issue TITLE - create a GitHub issue (more lines become the "
    "body); /issue codegen: TITLE queues that agent\n"
    "/runs - your 5 newest executions\n"
    "/logs ID - the last 10 log lines of an execution\n"
    "/cancel ID - cancel an execution\n"
    "/retry ID - run a failed or cancelled execution again\n"
    "/link CODE - link this chat to your Miyabi account\n"
    "/help - this help\n"
    "Plain text becomes an issue written by the assistant, when one "
    "is configured.",
    "コマンド:\n"
    "/getid - このチャットのIDを表示\n"
    "/status - サービスの状態と実行中のエージェント\n"
    "/issue タイトル - GitHub Issue を作成(2行目以降は本文)。"
    "/issue codegen: タイトル でそのエージェントを登録\n"
    "/runs - 最新の実行5件\n"
    "/logs ID - 実行のログ(最新10行)\n"
    "/cancel ID - 実行をキャンセル\n"
    "/retry ID - 失敗・キャンセルした実行をやり直す\n"
    "/link コード - このチャットを Miyabi アカウントに連携\n"
    "/help - このヘルプ\n"
    "アシスタントが設定されていれば、普通の文章から Issue を作成します。");
}

bot_action message(int64_t chat, std::string text) {
  bot_action action;
  action.what = bot_action::kind::send_message;
  action.chat_id = chat;
  action.text = std::move(text);
  return action;
}

std::string status_text(bool ja, const bot_settings& s,
                        const std::optional<std::pair<int64_t, int64_t>>& n) {
  std::string text = tr(ja, "Miyabi status\n", "Miyabi の状態\n");
  text += tr(ja, "Version: ", "バージョン: ") + s.version + "\n";
  text += tr(ja, "Mode: ", "モード: ") + s.mode + "\n";
  text += tr(ja, "Database: ", "データベース: ") + s.database + "\n";
  if (n) {
    text += tr(ja, "Pending executions: ", "待機中の実行: ") +
            std::to_string(n->first) + "\n";
    text +=
      tr(ja, "Running executions: ", "実行中: ") + std::to_string(n->second);
  } else {
    text += tr(ja, "Executions: unavailable without a database",
               "実行状況: データベースがないため取得できません");
  }
  return text;
}

/// /getid: who and where the chat is, so an administrator can allow it.
bot_action getid_reply(const telegram_message& m, bool ja) {
  std::string text =
    tr(ja, "Chat ID: ", "チャットID: ") + std::to_string(m.chat_id);
  text += tr(ja, "\nName: ", "\n名前: ") + display_name(m);
  text += tr(ja, "\nUsername: ", "\nユーザー名: ") +
          (m.username.empty() ? std::string{"-"} : "@" + m.username);
  return message(m.chat_id, text);
}

/// /link CODE: ties the chat to the dashboard user who made the code.
bot_action link_reply(const telegram_message& m, const bot_command& cmd,
                      bot_backend& backend, bool ja) {
  auto chat = m.chat_id;
  if (!backend.has_database())
    return message(chat, tr(ja,
                            "Linking needs the database, which this "
                            "instance does not have.",
                            "連携にはデータベースが必要ですが、このインスタンス"
                            "にはありません。"));
  auto code = cmd.argument;
  code.erase(std::remove_if(code.begin(), code.end(),
                            [](unsigned char c) { return std::isspace(c); }),
             code.end());
  std::transform(code.begin(), code.end(), code.begin(),
                 [](unsigned char c) { return std::toupper(c); });
  if (code.empty())
    return message(chat,
                   tr(ja,
                      "Usage: /link CODE (get a code in the Miyabi "
                      "dashboard)",
                      "使い方: /link コード (コードはダッシュボードで取得)"));
  if (auto u = backend.consume_link(code, chat))
    return message(
      chat, tr(ja, "Linked this chat to ", "このチャットを連携しました: ") +
              u->login);
  return message(chat, tr(ja, "That code is unknown, used or expired.",
                          "そのコードは無効か、使用済みか、期限切れです。"));
}

/// The polite refusal once a chat used its issues of the hour.
bot_action over_issue_limit(int64_t chat, bool ja, uint32_t per_hour,
                            int64_t wait_seconds) {
  auto minutes = std::to_string(std::max<int64_t>(1, (wait_seconds + 59) / 60));
  auto n = std::to_string(per_hour);
  return message(chat,
                 ja ? "このチャットから作成できる Issue は1時間に " + n +
                        " 件までです。約 " + minutes +
                        " 分後にもう一度お試しください。"
                    : "This chat may create " + n +
                        " issues per hour and has reached that; please try "
                        "again in about " +
                        minutes + " minutes.");
}

/// Spends one of the chat's issue requests of the hour and answers `reply`
/// with the task for the outbox; over the limit, the polite refusal and no
/// task.
bot_action start_issue(issue_request req, std::string reply,
                       const bot_settings& s, bot_backend& backend,
                       const std::optional<storage::user>& linked) {
  if (auto wait = backend.take_issue_quota(req.chat_id, s.issues_per_hour))
    return over_issue_limit(req.chat_id, req.japanese, s.issues_per_hour,
                            *wait);
  req.user_id = linked ? linked->id : std::string{};
  auto action = message(req.chat_id, std::move(reply));
  action.issue = std::move(req);
  return action;
}

/// "codegen: Fix it" names the agent; anything else is all title.
std::pair<std::string, std::string> agent_and_title(const std::string& line) {
  auto colon = line.find(':');
  if (colon != std::string::npos && colon > 0 && colon <= 32) {
    auto word = text_trim(line.substr(0, colon));
    std::transform(word.begin(), word.end(), word.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    if (known_agent_type(word))
      return {word, text_trim(line.substr(colon + 1))};
  }
  return {"issue", line};
}

/// /issue TITLE, body on the next lines: a task that creates the issue.
bot_action issue_command(const telegram_message& m, const bot_command& cmd,
                         const bot_settings& s, bot_backend& backend,
                         const std::optional<storage::user>& linked, bool ja) {
  auto chat = m.chat_id;
  if (!s.issues_enabled)
    return message(chat, tr(ja,
                            "Creating issues is not configured "
                            "(GITHUB_TOKEN, GITHUB_OWNER, GITHUB_REPO).",
                            "Issue 作成が設定されていません (GITHUB_TOKEN, "
                            "GITHUB_OWNER, GITHUB_REPO)。"));
  auto newline = cmd.argument.find('\n');
  auto [agent, title] =
    agent_and_title(text_trim(cmd.argument.substr(0, newline)));
  auto body = newline == std::string::npos
                ? std::string{}
                : text_trim(cmd.argument.substr(newline + 1));
  if (title.empty())
    return message(chat, tr(ja,
                            "Usage: /issue TITLE (body on the next lines); "
                            "/issue codegen: TITLE names the agent",
                            "使い方: /issue タイトル (本文は次の行から)。"
                            "/issue codegen: タイトル でエージェントを指定"));
  // Never cut inside a character: the task is stored as jsonb and sent
  // to GitHub, and both refuse invalid UTF-8.
  issue_request req;
  req.chat_id = chat;
  req.japanese = ja;
  req.title = text_trim(cut_utf8(title, max_issue_title));
  req.body = body;
  req.agent = agent;
  return start_issue(
    std::move(req),
    tr(ja, "Creating the issue in ", "Issue を作成しています: ") +
      s.repository + " ...",
    s, backend, linked);
}

/// Plain text: an issue written by the LLM, or how to write one.
bot_action plain_text(const telegram_message& m, const bot_command& cmd,
                      const bot_settings& s, bot_backend& backend,
                      const std::optional<storage::user>& linked, bool ja) {
  auto chat = m.chat_id;
  if (!s.llm_enabled || !s.issues_enabled)
    return message(chat, tr(ja,
                            "To create an issue, send /issue TITLE (body on "
                            "the next lines).",
                            "Issue を作るには /issue タイトル を送ってください"
                            "(本文は次の行から)。"));
  issue_request req;
  req.chat_id = chat;
  req.japanese = ja;
  req.message = cmd.argument;
  return start_issue(std::move(req),
                     tr(ja, "Writing an issue from your message ...",
                        "メッセージから Issue を作成しています ..."),
                     s, backend, linked);
}

// -- executions from the chat -------------------------------------------------

/// Shortest id prefix a chat may use: 6 hex digits leave a collision among
/// a user's executions unlikely, and an ambiguous one is answered as such.
constexpr size_t min_prefix = 6;

const char* status_word(bool ja, const std::string& status) {
  if (!ja)
    return status.c_str();
  if (status == "pending")
    return "待機中";
  if (status == "running")
    return "実行中";
  if (status == "completed")
    return "完了";
  if (status == "failed")
    return "失敗";
  if (status == "cancelled")
    return "キャンセル";
  if (status == "blocked")
    return "待ち合わせ中";
  return status.c_str();
}

/// "codegen on owner/name #12"
std::string subject(const storage::recent_execution& r) {
  return r.execution.agent_type + " " + r.repository_owner + "/" +
         r.repository_name + " #" + std::to_string(r.execution.issue_number);
}

/// An id or prefix as typed: lower-case hex digits and dashes, 6 to 36
/// characters; nothing otherwise.
std::optional<std::string> id_prefix(const std::string& typed) {
  auto text = text_trim(typed);
  if (text.size() < min_prefix || text.size() > 36)
    return std::nullopt;
  std::string out;
  for (unsigned char c : text) {
    if (std::isxdigit(c))
      out += static_cast<char>(std::tolower(c));
    else if (c == '-')
      out += '-';
    else
      return std::nullopt;
  }
  return out;
}

std::string no_such_execution(bool ja, const std::string& typed) {
  return ja ? typed + " に一致するあなたの実行はありません。/runs "
                      "で確認してください。"
            : "No execution of yours matches " + typed + ". See /runs.";
}

/// Resolves the command's argument to one execution of the user, or the
/// answer that explains why not.
std::variant<storage::recent_execution, std::string>
resolve(const bot_command& cmd, bot_backend& backend, const storage::user& u,
        bool ja) {
  auto prefix = id_prefix(cmd.argument);
  if (!prefix)
    return std::string{ja ? "使い方: " + cmd.name +
                              " ID (ID は /runs に表示される先頭6文字以上)"
                          : "Usage: " + cmd.name +
                              " ID (the id or its first 6 or more "
                              "characters, as /runs shows them)"};
  auto found = backend.find_execution(u.id, *prefix);
  switch (found.found) {
    case execution_lookup::outcome::one: return found.match;
    case execution_lookup::outcome::many:
      return std::string{
        ja ? *prefix + " は複数の実行に一致します。もっと長く指定してください。"
           : *prefix +
               " matches several of your executions; send more of the id."};
    default: return no_such_execution(ja, *prefix);
  }
}

std::string runs_text(bool ja,
                      const std::vector<storage::recent_execution>& runs) {
  if (runs.empty())
    return tr(ja, "You have no executions yet.", "まだ実行はありません。");
  std::string text = tr(ja, "Your newest executions:", "最新の実行:");
  for (const auto& r : runs)
    text += "\n" + short_id(r.execution.id) + "  " + subject(r) + "  " +
            status_word(ja, r.execution.status);
  return text;
}

std::string logs_text(bool ja, const storage::recent_execution& r,
                      const std::vector<storage::execution_log>& logs) {
  auto head = short_id(r.execution.id) + " (" + subject(r) + ")";
  if (logs.empty())
    return ja ? head + " にはまだログがありません。"
              : head + " has no log lines yet.";
  std::string text =
    ja ? head + " の最新ログ:" : "Last log lines of " + head + ":";
  for (const auto& l : logs)
    text += "\n[" + l.level + "] " + l.message;
  return text;
}

constexpr int64_t runs_shown = 5;
constexpr int64_t log_lines_shown = 10;

std::string cancel_text(bool ja, const storage::recent_execution& r,
                        const execution_action& a) {
  auto id = short_id(r.execution.id);
  switch (a.result) {
    case execution_action::outcome::done:
      return ja ? id + " (" + subject(r) + ") をキャンセルしました。"
                : "Cancelled " + id + " (" + subject(r) + ").";
    case execution_action::outcome::conflict:
      return ja ? id + " はキャンセルできません(状態: " +
                    status_word(ja, a.status) + ")。"
                : id + " cannot be cancelled: it is " + a.status + ".";
    default: return no_such_execution(ja, id);
  }
}

std::string retry_text(bool ja, const storage::recent_execution& r,
                       const execution_action& a) {
  auto id = short_id(r.execution.id);
  switch (a.result) {
    case execution_action::outcome::done:
      return ja ? id + " の再実行を " + short_id(a.new_id) +
                    " として登録しました。"
                : "Queued a retry of " + id + " as " + short_id(a.new_id) + ".";
    case execution_action::outcome::conflict:
      return ja ? id +
                    " は再実行できません。失敗またはキャンセルした実行だけが"
                    "対象です(状態: " +
                    status_word(ja, a.status) + ")。"
                : id +
                    " cannot be retried: only failed or cancelled "
                    "executions can, and it is " +
                    a.status + ".";
    default: return no_such_execution(ja, id);
  }
}

/// /runs, /logs, /cancel, /retry for a chat linked to `u`.
bot_action execution_command(const telegram_message& m, const bot_command& cmd,
                             bot_backend& backend, const storage::user& u,
                             bool ja) {
  auto chat = m.chat_id;
  if (cmd.name == "/runs")
    return message(chat,
                   runs_text(ja, backend.recent_executions(u.id, runs_shown)));
  auto target = resolve(cmd, backend, u, ja);
  if (auto* why = std::get_if<std::string>(&target))
    return message(chat, *why);
  const auto& r = std::get<storage::recent_execution>(target);
  if (cmd.name == "/logs")
    return message(
      chat, logs_text(
              ja, r, backend.last_logs(u.id, r.execution.id, log_lines_shown)));
  if (cmd.name == "/cancel")
    return message(
      chat, cancel_text(ja, r, backend.cancel_execution(u.id, r.execution.id)));
  return message(
    chat, retry_text(ja, r, backend.retry_execution(u.id, r.execution.id)));
}

bool execution_command_name(const std::string& name) {
  return name == "/runs" || name == "/logs" || name == "/cancel" ||
         name == "/retry";
}

// -- buttons
// --------------------------------------------------------------------

bot_action callback_answer(const telegram_callback& cb, std::string text) {
  bot_action action;
  action.what = bot_action::kind::answer_callback;
  action.callback_id = cb.id;
  action.text = std::move(text);
  return action;
}

/// A button press: `cancel:ID`, `retry:ID` or `logs:ID` (full id), acted on
/// only when the pressing chat is linked to the execution's owner.
bot_action button(const telegram_callback& cb, bot_backend& backend) {
  bool ja = cb.language_code == "ja";
  auto colon = cb.data.find(':');
  auto verb = cb.data.substr(0, colon);
  auto id =
    colon == std::string::npos ? std::string{} : cb.data.substr(colon + 1);
  bool known_verb = verb == "cancel" || verb == "retry" || verb == "logs";
  auto prefix = id_prefix(id);
  if (!known_verb || !prefix || prefix->size() != 36 || !cb.chat_id ||
      !backend.has_database())
    return callback_answer(cb, tr(ja, "Unknown action; nothing was done.",
                                  "不明な操作です。何も行っていません。"));
  auto chat = *cb.chat_id;
  auto linked = backend.linked_user(chat);
  auto found =
    linked ? backend.find_execution(linked->id, *prefix) : execution_lookup{};
  if (found.found != execution_lookup::outcome::one)
    return callback_answer(
      cb, tr(ja,
             "Not an execution of the account linked to this chat; "
             "nothing was done.",
             "このチャットに連携したアカウントの実行ではありません。何も"
             "行っていません。"));
  const auto& r = found.match;
  if (verb == "logs") {
    chat_message logs{
      logs_text(ja, r,
                backend.last_logs(linked->id, r.execution.id, log_lines_shown)),
      {}};
    backend.send_later(chat, logs);
    return callback_answer(
      cb, tr(ja, "Logs sent to the chat.", "ログをチャットに送りました。"));
  }
  auto done = verb == "cancel"
                ? backend.cancel_execution(linked->id, r.execution.id)
                : backend.retry_execution(linked->id, r.execution.id);
  auto text =
    verb == "cancel" ? cancel_text(ja, r, done) : retry_text(ja, r, done);
  // An answerCallbackQuery text is at most 200 characters.
  return callback_answer(cb, std::string{cut_utf8(text, 190)});
}

} // namespace

bot_command parse_command(const std::string& raw) {
  bot_command cmd;
  auto text = text_trim(raw);
  if (text.empty() || text.front() != '/') {
    cmd.argument = text;
    return cmd;
  }
  auto end = text.find_first_of(" \t\r\n");
  auto word = text.substr(0, end);
  if (auto at = word.find('@'); at != std::string::npos)
    word.erase(at); // "/start@MiyabiBot" addresses this bot in groups
  std::transform(word.begin(), word.end(), word.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  cmd.name = word;
  cmd.argument =
    end == std::string::npos ? std::string{} : text_trim(text.substr(end));
  return cmd;
}

bot_action decide(const telegram_update& update, bot_backend& backend,
                  const bot_settings& s) {
  if (update.callback)
    return button(*update.callback, backend);
  if (!update.message)
    return {}; // an update kind the bot does not handle
  const auto& m = *update.message;
  bool ja = m.language_code == "ja";
  auto chat = m.chat_id;
  auto cmd = parse_command(m.text);
  if (m.text.empty())
    return {}; // stickers, photos, joins: nothing to say
  if (cmd.name == "/getid")
    return getid_reply(m, ja);
  if (cmd.name == "/link")
    return link_reply(m, cmd, backend, ja);
  auto linked =
    backend.has_database() ? backend.linked_user(chat) : std::nullopt;
  bool authorized =
    linked.has_value() ||
    std::find(s.authorized_chat_ids.begin(), s.authorized_chat_ids.end(),
              chat) != s.authorized_chat_ids.end();
  if (!authorized)
    return message(chat,
                   tr(ja,
                      "This chat may not use the bot. Send /getid and "
                      "give the id to an administrator, or link your "
                      "account with /link CODE.",
                      "このチャットではボットを使えません。/getid で表示され"
                      "るIDを管理者に伝えるか、/link コード でアカウントを"
                      "連携してください。"));
  if (cmd.name == "/start")
    return message(chat,
                   std::string{tr(ja,
                                  "Welcome to Miyabi! I turn messages "
                                  "into GitHub issues for the agents.\n\n",
                                  "Miyabi へようこそ！メッセージを GitHub "
                                  "Issue にしてエージェントに渡します。\n\n")} +
                     help_text(ja));
  if (cmd.name == "/help")
    return message(chat, help_text(ja));
  if (cmd.name == "/status")
    return message(chat, status_text(ja, s,
                                     backend.active_executions(
                                       linked ? linked->id : std::string{})));
  if (cmd.name == "/issue")
    return issue_command(m, cmd, s, backend, linked, ja);
  if (execution_command_name(cmd.name)) {
    if (!backend.has_database())
      return message(chat, tr(ja,
                              "Executions need the database, which this "
                              "instance does not have.",
                              "実行の操作にはデータベースが必要ですが、この"
                              "インスタンスにはありません。"));
    if (!linked)
      return message(chat, tr(ja,
                              "Link this chat to your Miyabi account first: "
                              "/link CODE (get a code in the dashboard).",
                              "先にこのチャットを Miyabi アカウントに連携して"
                              "ください: /link コード (コードはダッシュボード"
                              "で取得)。"));
    return execution_command(m, cmd, backend, *linked, ja);
  }
  if (!cmd.name.empty())
    return message(
      chat, std::string{tr(ja, "Unknown command ", "不明なコマンドです: ")} +
              cmd.name + tr(ja, ". See /help.", "。/help を見てください。"));
  return plain_text(m, cmd, s, backend, linked, ja);
}

std::string issue_created_text(bool ja, int64_t number,
                               const std::string& url) {
  return std::string{tr(ja, "Created issue #", "Issue を作成しました #")} +
         std::to_string(number) + ": " + url;
}

std::string issue_failed_text(bool ja, const std::string& why) {
  return std::string{tr(ja, "Sorry, the issue could not be created: ",
                        "申し訳ありません。Issue を作成できませんでした: ")} +
         why;
}

bool notifies(const std::string& status) {
  return status == "running" || status == "completed" || status == "failed" ||
         status == "cancelled";
}

std::string short_id(const std::string& id) {
  return id.substr(0, 8);
}

std::optional<int64_t> telegram_only_backend::take_issue_quota(int64_t chat_id,
                                                               uint32_t) {
  return issue_limits_.take(std::to_string(chat_id));
}

std::string issue_done_text(bool ja, int64_t number, const std::string& url,
                            const std::string& agent,
                            const std::string& execution_id,
                            std::optional<bool> registered,
                            const std::string& repository) {
  auto text = issue_created_text(ja, number, url);
  if (!registered)
    return text;
  if (!execution_id.empty())
    text += ja
              ? "\n" + agent +
                  " エージェントの実行を登録しました: " + short_id(execution_id)
              : "\nQueued a " + agent + " agent for it: execution " +
                  short_id(execution_id);
  else if (*registered)
    text += ja ? "\n" + agent + " エージェントの実行はすでに登録されています。"
               : "\nA " + agent + " agent is already queued for it.";
  else
    text += ja ? "\n" + repository +
                   " をダッシュボードで登録すると、エージェントが作業します。"
               : "\nRegister " + repository +
                   " in the dashboard and agents will work on it.";
  return text;
}

chat_message execution_notice(const storage::execution_change& c, bool ja) {
  const auto& e = c.execution;
  auto repository = c.repository_owner + "/" + c.repository_name;
  chat_message notice;
  if (ja) {
    notice.text = "Miyabi: " + repository + " #" +
                  std::to_string(e.issue_number) + " の " + e.agent_type +
                  " エージェントは「" + status_word(true, e.status) +
                  "」になりました (" + short_id(e.id) + ")";
    if (e.pr_number)
      notice.text += "\nプルリクエスト: #" + std::to_string(*e.pr_number);
    if (e.error_message && !e.error_message->empty())
      notice.text += "\nエラー: " + *e.error_message;
  } else {
    notice.text = "Miyabi: " + e.agent_type + " agent on " + repository + " #" +
                  std::to_string(e.issue_number) + " is now " + e.status +
                  " (" + short_id(e.id) + ")";
    if (e.pr_number)
      notice.text += "\nPull request: #" + std::to_string(*e.pr_number);
    if (e.error_message && !e.error_message->empty())
      notice.text += "\nError: " + *e.error_message;
  }
  auto callback = [&](const char* en, const char* jp, const char* verb) {
    return keyboard_button{tr(ja, en, jp), std::string{verb} + ":" + e.id, {}};
  };
  if (e.status == "running") {
    notice.keyboard = {{callback("Cancel", "キャンセル", "cancel")}};
  } else if (e.status == "failed" || e.status == "cancelled") {
    notice.keyboard = {
      {callback("Retry", "再実行", "retry"), callback("Logs", "ログ", "logs")}};
  } else if (e.status == "completed" && e.pr_number) {
    notice.keyboard = {
      {keyboard_button{tr(ja, "Open PR", "PR を開く"),
                       {},
                       "https://github.com/" + repository + "/pull/" +
                         std::to_string(*e.pr_number)}}};
  }
  return notice;
}

std::string keyboard_json(const inline_keyboard& keyboard) {
  if (keyboard.empty())
    return {};
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w{buf};
  auto text = [&w](const std::string& s) {
    w.String(s.c_str(), static_cast<rapidjson::SizeType>(s.size()));
  };
  w.StartObject();
  w.Key("inline_keyboard");
  w.StartArray();
  for (const auto& row : keyboard) {
    w.StartArray();
    for (const auto& b : row) {
      w.StartObject();
      w.Key("text");
      text(b.text);
      if (!b.url.empty()) {
        w.Key("url");
        text(b.url);
      } else {
        w.Key("callback_data");
        text(b.callback_data);
      }
      w.EndObject();
    }
    w.EndArray();
  }
  w.EndArray();
  w.EndObject();
  return {buf.GetString(), buf.GetSize()};
}

} // namespace miyabi::domain
