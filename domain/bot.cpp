#include "domain/bot.hpp"

#include <algorithm>
#include <cctype>

#include "base/text.hpp"
#include "base/utf8.hpp"

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
    "body)\n"
    "/link CODE - link this chat to your Miyabi account\n"
    "/help - this help\n"
    "Plain text becomes an issue written by the assistant, when one "
    "is configured.",
    "コマンド:\n"
    "/getid - このチャットのIDを表示\n"
    "/status - サービスの状態と実行中のエージェント\n"
    "/issue タイトル - GitHub Issue を作成(2行目以降は本文)\n"
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

/// /issue TITLE, body on the next lines: a task that creates the issue.
bot_action issue_command(const telegram_message& m, const bot_command& cmd,
                         const bot_settings& s, bool ja) {
  auto chat = m.chat_id;
  if (!s.issues_enabled)
    return message(chat, tr(ja,
                            "Creating issues is not configured "
                            "(GITHUB_TOKEN, GITHUB_OWNER, GITHUB_REPO).",
                            "Issue 作成が設定されていません (GITHUB_TOKEN, "
                            "GITHUB_OWNER, GITHUB_REPO)。"));
  auto newline = cmd.argument.find('\n');
  auto title = text_trim(cmd.argument.substr(0, newline));
  auto body = newline == std::string::npos
                ? std::string{}
                : text_trim(cmd.argument.substr(newline + 1));
  if (title.empty())
    return message(chat, tr(ja, "Usage: /issue TITLE (body on the next lines)",
                            "使い方: /issue タイトル (本文は次の行から)"));
  auto action =
    message(chat, tr(ja, "Creating the issue in ", "Issue を作成しています: ") +
                    s.repository + " ...");
  // Never cut inside a character: the task is stored as jsonb and sent
  // to GitHub, and both refuse invalid UTF-8.
  action.issue = issue_request{
    chat, ja, text_trim(cut_utf8(title, max_issue_title)), body, {}};
  return action;
}

/// Plain text: an issue written by the LLM, or how to write one.
bot_action plain_text(const telegram_message& m, const bot_command& cmd,
                      const bot_settings& s, bool ja) {
  auto chat = m.chat_id;
  if (!s.llm_enabled || !s.issues_enabled)
    return message(chat, tr(ja,
                            "To create an issue, send /issue TITLE (body on "
                            "the next lines).",
                            "Issue を作るには /issue タイトル を送ってください"
                            "(本文は次の行から)。"));
  auto action = message(chat, tr(ja, "Writing an issue from your message ...",
                                 "メッセージから Issue を作成しています ..."));
  action.issue = issue_request{chat, ja, {}, {}, cmd.argument};
  return action;
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
  if (update.callback) {
    bot_action action;
    action.what = bot_action::kind::answer_callback;
    action.callback_id = update.callback->id;
    action.text = tr(update.callback->language_code == "ja", "OK", "了解");
    return action;
  }
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
    return issue_command(m, cmd, s, ja);
  if (!cmd.name.empty())
    return message(
      chat, std::string{tr(ja, "Unknown command ", "不明なコマンドです: ")} +
              cmd.name + tr(ja, ". See /help.", "。/help を見てください。"));
  return plain_text(m, cmd, s, ja);
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

std::string execution_notice_text(const storage::execution_change& c) {
  const auto& e = c.execution;
  std::string text = "Miyabi: " + e.agent_type + " agent on " +
                     c.repository_owner + "/" + c.repository_name + " #" +
                     std::to_string(e.issue_number) + " is now " + e.status;
  if (e.pr_number)
    text += "\nPull request: #" + std::to_string(*e.pr_number);
  if (e.error_message && !e.error_message->empty())
    text += "\nError: " + *e.error_message;
  return text;
}

} // namespace miyabi::domain
