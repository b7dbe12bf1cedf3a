-- The whole Miyabi schema. Applied inside one transaction under an advisory
-- lock by storage/migrations.cpp; never edit an applied migration (its
-- checksum is recorded): add a new NNNN_name.sql instead.

-- RFC 3339 UTC text with microseconds, the API's timestamp format.
CREATE FUNCTION rfc3339(t timestamptz) RETURNS text
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $$ SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') $$;

-- -- users and authentication ------------------------------------------------

CREATE TABLE users (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  github_id   bigint NOT NULL UNIQUE,
  login       text NOT NULL,
  email       text,
  name        text,
  avatar_url  text,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Opaque refresh tokens, stored as SHA-256 hex. Each login starts a family;
-- a rotated token presented again revokes its whole family.
CREATE TABLE refresh_tokens (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  token_hash  text NOT NULL UNIQUE,
  family_id   uuid NOT NULL,
  rotated_at  timestamptz,
  revoked_at  timestamptz,
  expires_at  timestamptz NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);
CREATE INDEX refresh_tokens_expires ON refresh_tokens (expires_at);

-- Access tokens revoked before their expiry (logout), by jti.
CREATE TABLE revoked_tokens (
  jti         text PRIMARY KEY,
  expires_at  timestamptz NOT NULL,
  revoked_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX revoked_tokens_revoked_at ON revoked_tokens (revoked_at);
CREATE INDEX revoked_tokens_expires ON revoked_tokens (expires_at);

-- GitHub login state: single use, bound to the browser's cookie, valid on
-- every instance.
CREATE TABLE oauth_states (
  state_hash     text PRIMARY KEY,
  binding_hash   text NOT NULL,
  code_verifier  text NOT NULL,
  redirect_path  text NOT NULL,
  expires_at     timestamptz NOT NULL,
  created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX oauth_states_expires ON oauth_states (expires_at);

-- -- repositories, executions, logs, workflows --------------------------------

CREATE TABLE repositories (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  owner           text NOT NULL,
  name            text NOT NULL,
  github_repo_id  bigint,
  default_branch  text NOT NULL DEFAULT 'main',
  is_active       boolean NOT NULL DEFAULT true,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now()
);
-- GitHub names are case-insensitive: one row per user and repository.
CREATE UNIQUE INDEX repositories_user_full_name
  ON repositories (user_id, lower(owner), lower(name));
CREATE INDEX repositories_user_active_updated
  ON repositories (user_id, updated_at DESC) WHERE is_active;

CREATE TABLE agent_executions (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  repository_id   uuid NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
  agent_type      text NOT NULL CHECK (agent_type IN
                    ('coordinator', 'codegen', 'review', 'pr', 'deployment',
                     'issue')),
  issue_number    integer NOT NULL CHECK (issue_number > 0),
  status          text NOT NULL DEFAULT 'pending' CHECK (status IN
                    ('pending', 'running', 'completed', 'failed',
                     'cancelled')),
  options         jsonb CHECK (options IS NULL
                                OR jsonb_typeof(options) = 'object'),
  result_summary  jsonb CHECK (result_summary IS NULL
                                OR jsonb_typeof(result_summary) = 'object'),
  quality_score   integer CHECK (quality_score BETWEEN 0 AND 100),
  pr_number       integer CHECK (pr_number > 0),
  error_message   text,
  started_at      timestamptz,
  completed_at    timestamptz,
  created_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
  updated_at      timestamptz NOT NULL DEFAULT clock_timestamp()
);
-- Lists: newest first with a (created_at, id) keyset cursor, per user and
-- optionally per status or repository; claims: oldest pending first.
CREATE INDEX agent_executions_user_created
  ON agent_executions (user_id, created_at DESC, id DESC);
CREATE INDEX agent_executions_user_status_created
  ON agent_executions (user_id, status, created_at DESC, id DESC);
CREATE INDEX agent_executions_repository_created
  ON agent_executions (repository_id, created_at DESC, id DESC);
CREATE INDEX agent_executions_pending
  ON agent_executions (user_id, created_at, id) WHERE status = 'pending';

CREATE TABLE execution_logs (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  seq           bigint GENERATED ALWAYS AS IDENTITY,
  execution_id  uuid NOT NULL REFERENCES agent_executions (id)
                  ON DELETE CASCADE,
  level         text NOT NULL CHECK (level IN ('DEBUG', 'INFO', 'WARN',
                                                'ERROR')),
  message       text NOT NULL,
  metadata      jsonb,
  "timestamp"   timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX execution_logs_execution_time
  ON execution_logs (execution_id, "timestamp", seq);

CREATE TABLE workflows (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  repository_id   uuid NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
  name            text NOT NULL,
  description     text,
  dag_definition  jsonb NOT NULL,
  is_active       boolean NOT NULL DEFAULT true,
  created_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
  updated_at      timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX workflows_user_created ON workflows (user_id, created_at DESC);
CREATE INDEX workflows_repository_created
  ON workflows (repository_id, created_at DESC);

-- POST /agents/execute with Idempotency-Key: one row per user and key,
-- written in the transaction that creates the execution.
CREATE TABLE idempotency_keys (
  user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  key           text NOT NULL,
  request_hash  text NOT NULL,
  state         text NOT NULL DEFAULT 'completed'
                  CHECK (state IN ('in_flight', 'completed')),
  execution_id  uuid REFERENCES agent_executions (id) ON DELETE CASCADE,
  response_status integer,
  created_at    timestamptz NOT NULL DEFAULT now(),
  expires_at    timestamptz NOT NULL,
  PRIMARY KEY (user_id, key)
);
CREATE INDEX idempotency_keys_expires ON idempotency_keys (expires_at);

-- -- Telegram ------------------------------------------------------------------

-- Every processed update id, recorded in the transaction of its effects.
CREATE TABLE telegram_updates (
  update_id    bigint PRIMARY KEY,
  received_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX telegram_updates_received ON telegram_updates (received_at);

-- Chats linked to web users (one user per chat).
CREATE TABLE telegram_chats (
  chat_id    bigint PRIMARY KEY,
  user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  linked_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX telegram_chats_user ON telegram_chats (user_id);

-- Single-use link codes (stored hashed) that prove a chat belongs to a user.
CREATE TABLE telegram_link_codes (
  code_hash   text PRIMARY KEY,
  user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  expires_at  timestamptz NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX telegram_link_codes_expires ON telegram_link_codes (expires_at);

-- Durable outgoing work for the bot: messages (and issue creations) drained
-- by the sender actor, retried across restarts.
CREATE TABLE telegram_outbox (
  id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  chat_id          bigint NOT NULL,
  kind             text NOT NULL DEFAULT 'message'
                     CHECK (kind IN ('message', 'create_issue')),
  payload          jsonb NOT NULL,
  state            text NOT NULL DEFAULT 'pending'
                     CHECK (state IN ('pending', 'sent', 'failed')),
  attempts         integer NOT NULL DEFAULT 0,
  next_attempt_at  timestamptz NOT NULL DEFAULT now(),
  last_error       text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  sent_at          timestamptz
);
CREATE INDEX telegram_outbox_due
  ON telegram_outbox (next_attempt_at, id) WHERE state = 'pending';
CREATE INDEX telegram_outbox_chat ON telegram_outbox (chat_id, id);
