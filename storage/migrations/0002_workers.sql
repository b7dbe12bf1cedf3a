-- Workers and leases, retries and workflow runs (api.md, "Workers and
-- leases" and "Workflow runs").

-- Worker tokens: stored as SHA-256 hex of the token; a null scope list
-- means "any". Revoked tokens stay for the audit trail.
CREATE TABLE worker_tokens (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  name            text NOT NULL,
  token_hash      text NOT NULL UNIQUE,
  repository_ids  uuid[],
  agent_types     text[],
  created_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
  last_used_at    timestamptz,
  revoked_at      timestamptz
);
CREATE INDEX worker_tokens_user_live
  ON worker_tokens (user_id, created_at DESC) WHERE revoked_at IS NULL;

-- A run of a workflow's graph: one execution per node.
CREATE TABLE workflow_runs (
  id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id        uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  -- Runs outlive their workflow as history.
  workflow_id    uuid REFERENCES workflows (id) ON DELETE SET NULL,
  repository_id  uuid NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
  issue_number   integer NOT NULL CHECK (issue_number > 0),
  status         text NOT NULL DEFAULT 'running' CHECK (status IN
                   ('running', 'completed', 'failed', 'cancelled')),
  created_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
  updated_at     timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX workflow_runs_workflow_created
  ON workflow_runs (workflow_id, created_at DESC, id DESC);

ALTER TABLE agent_executions
  DROP CONSTRAINT agent_executions_status_check,
  ADD CONSTRAINT agent_executions_status_check CHECK (status IN
    ('blocked', 'pending', 'running', 'completed', 'failed', 'cancelled')),
  ADD COLUMN attempt integer NOT NULL DEFAULT 1 CHECK (attempt > 0),
  ADD COLUMN progress integer CHECK (progress BETWEEN 0 AND 100),
  ADD COLUMN lease_expires_at timestamptz,
  ADD COLUMN claimed_by uuid REFERENCES worker_tokens (id) ON DELETE SET NULL,
  ADD COLUMN retry_of uuid REFERENCES agent_executions (id)
    ON DELETE SET NULL,
  ADD COLUMN workflow_run_id uuid REFERENCES workflow_runs (id)
    ON DELETE SET NULL,
  ADD COLUMN node_id text;

-- The lease sweeper's scan: running executions by expiry.
CREATE INDEX agent_executions_lease
  ON agent_executions (lease_expires_at) WHERE status = 'running';
CREATE INDEX agent_executions_run
  ON agent_executions (workflow_run_id) WHERE workflow_run_id IS NOT NULL;

-- The graph of a run, as edges between its executions.
CREATE TABLE execution_dependencies (
  execution_id  uuid NOT NULL REFERENCES agent_executions (id)
                  ON DELETE CASCADE,
  depends_on    uuid NOT NULL REFERENCES agent_executions (id)
                  ON DELETE CASCADE,
  PRIMARY KEY (execution_id, depends_on)
);
CREATE INDEX execution_dependencies_depends_on
  ON execution_dependencies (depends_on);
