-- Issue 14: Telegram and GitHub in the loop.

-- What the bot remembers about a chat: the language of its last message
-- that named one ('ja' or 'en'), used for notifications. The row is also
-- what the per-chat issue limit locks, so that concurrent updates of one
-- chat on several instances count one after the other.
CREATE TABLE telegram_chat_settings (
  chat_id     bigint PRIMARY KEY,
  language    text NOT NULL DEFAULT 'en' CHECK (language IN ('en', 'ja')),
  updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Issues (an LLM draft counts once) asked for from each chat:
-- TELEGRAM_ISSUES_PER_HOUR counts the rows of the last hour.
CREATE TABLE telegram_issue_requests (
  chat_id       bigint NOT NULL,
  requested_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX telegram_issue_requests_chat
  ON telegram_issue_requests (chat_id, requested_at);

-- Every GitHub webhook delivery, recorded in the transaction of its effects
-- (a redelivery finds its id and does nothing).
CREATE TABLE github_deliveries (
  delivery_id  text PRIMARY KEY,
  event        text NOT NULL,
  received_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX github_deliveries_received ON github_deliveries (received_at);

-- Chat commands name executions by a prefix of their id.
CREATE INDEX agent_executions_id_prefix
  ON agent_executions (user_id, (id::text) text_pattern_ops);

-- Webhook events find every registration of a repository by its name.
CREATE INDEX repositories_full_name
  ON repositories (lower(owner), lower(name)) WHERE is_active;

-- Outbox rows carry an optional inline keyboard next to the text
-- (payload {"text", "reply_markup"?}); no schema change is needed.
