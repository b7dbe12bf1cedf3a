-- Live events (api.md, "Live events"): the event log every stream reads.
--
-- Rows are written by triggers in the transaction of the change they
-- describe, so no write path can forget one and a rolled-back change
-- leaves none. A row is born without a public id: `sequence_events` later
-- numbers the rows of finished transactions in one serial step, so ids
-- become visible in increasing order. A plain sequence would not do: two
-- transactions can commit in the other order than they drew their ids,
-- and a reader that already passed id 11 would never see a late id 10.
CREATE TABLE events (
  seq              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id               bigint UNIQUE,
  txid             xid8 NOT NULL DEFAULT pg_current_xact_id(),
  kind             text NOT NULL CHECK (kind IN
                     ('execution', 'log', 'workflow_run')),
  user_id          uuid NOT NULL,
  repository_id    uuid,
  execution_id     uuid,
  workflow_run_id  uuid,
  data             jsonb NOT NULL,
  created_at       timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX events_unsequenced ON events (txid, seq) WHERE id IS NULL;
CREATE INDEX events_user_id ON events (user_id, id) WHERE id IS NOT NULL;

-- The last id handed out and the newest id purged (resume points at or
-- below it answer `event: reset`). One row each, apart so the purge never
-- waits on the sequencer's lock.
CREATE TABLE event_cursor (
  last_id  bigint NOT NULL
);
INSERT INTO event_cursor VALUES (0);
CREATE TABLE event_horizon (
  purged_through  bigint NOT NULL
);
INSERT INTO event_horizon VALUES (0);

-- The REST shapes (http/json_codec.cpp) of the rows an event carries;
-- events_test compares them with the routes' answers.
CREATE FUNCTION execution_json(e agent_executions) RETURNS jsonb
  LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object(
    'id', e.id, 'repository_id', e.repository_id,
    'agent_type', e.agent_type, 'issue_number', e.issue_number,
    'status', e.status, 'options', e.options,
    'result_summary', e.result_summary, 'quality_score', e.quality_score,
    'pr_number', e.pr_number, 'error_message', e.error_message,
    'started_at', rfc3339(e.started_at),
    'completed_at', rfc3339(e.completed_at),
    'created_at', rfc3339(e.created_at),
    'updated_at', rfc3339(e.updated_at), 'attempt', e.attempt,
    'progress', e.progress,
    'lease_expires_at', rfc3339(e.lease_expires_at),
    'claimed_by', e.claimed_by, 'retry_of', e.retry_of,
    'workflow_run_id', e.workflow_run_id, 'node_id', e.node_id) $$;

CREATE FUNCTION workflow_run_json(w workflow_runs) RETURNS jsonb
  LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object(
    'id', w.id, 'workflow_id', w.workflow_id,
    'repository_id', w.repository_id, 'issue_number', w.issue_number,
    'status', w.status, 'created_at', rfc3339(w.created_at),
    'updated_at', rfc3339(w.updated_at),
    'nodes', COALESCE((
      SELECT jsonb_agg(jsonb_build_object(
               'node_id', e.node_id, 'agent_type', e.agent_type,
               'execution_id', e.id, 'status', e.status)
             ORDER BY e.created_at, e.id)
      FROM agent_executions e WHERE e.workflow_run_id = w.id), '[]')) $$;

-- A change that only extends a lease (a heartbeat without progress) is no
-- news to a dashboard.
CREATE FUNCTION record_execution_event() RETURNS trigger
  LANGUAGE plpgsql AS $$
DECLARE
  now_json jsonb := execution_json(NEW);
BEGIN
  IF TG_OP = 'UPDATE' AND (now_json - 'lease_expires_at' - 'updated_at') =
     (execution_json(OLD) - 'lease_expires_at' - 'updated_at') THEN
    RETURN NULL;
  END IF;
  INSERT INTO events (kind, user_id, repository_id, execution_id,
                      workflow_run_id, data)
  VALUES ('execution', NEW.user_id, NEW.repository_id, NEW.id,
          NEW.workflow_run_id, now_json);
  RETURN NULL;
END $$;

CREATE FUNCTION record_log_event() RETURNS trigger
  LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO events (kind, user_id, repository_id, execution_id,
                      workflow_run_id, data)
  SELECT 'log', e.user_id, e.repository_id, e.id, e.workflow_run_id,
         jsonb_build_object(
           'id', NEW.id, 'execution_id', NEW.execution_id,
           'level', NEW.level, 'message', NEW.message,
           'metadata', NEW.metadata,
           'timestamp', rfc3339(NEW."timestamp"))
  FROM agent_executions e WHERE e.id = NEW.execution_id;
  RETURN NULL;
END $$;

CREATE FUNCTION record_workflow_run_event() RETURNS trigger
  LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO events (kind, user_id, repository_id, workflow_run_id, data)
  VALUES ('workflow_run', NEW.user_id, NEW.repository_id, NEW.id,
          workflow_run_json(NEW));
  RETURN NULL;
END $$;

CREATE TRIGGER agent_executions_events
  AFTER INSERT OR UPDATE ON agent_executions
  FOR EACH ROW EXECUTE FUNCTION record_execution_event();
CREATE TRIGGER execution_logs_events
  AFTER INSERT ON execution_logs
  FOR EACH ROW EXECUTE FUNCTION record_log_event();
-- Deferred to the commit: a run is inserted before its node executions,
-- and its event lists the nodes.
CREATE CONSTRAINT TRIGGER workflow_runs_events
  AFTER INSERT OR UPDATE ON workflow_runs
  DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW EXECUTE FUNCTION record_workflow_run_event();

-- Numbers the events of finished transactions (at most `batch`), in the
-- order of their transaction ids, and returns the last id handed out; NULL
-- when another instance is numbering right now. Rows of a transaction are
-- numbered only once every older transaction has ended (its id is below
-- the snapshot's xmin), so a later call never hands out an id below one a
-- reader has seen. One wake-up NOTIFY per call that numbered anything: a
-- hint for the other instances, never one per write.
CREATE FUNCTION sequence_events(batch integer) RETURNS bigint
  LANGUAGE plpgsql AS $$
DECLARE
  base bigint;
  n bigint;
BEGIN
  SELECT last_id INTO base FROM event_cursor FOR UPDATE SKIP LOCKED;
  IF NOT FOUND THEN
    RETURN NULL;
  END IF;
  WITH settled AS (
    SELECT seq, row_number() OVER (ORDER BY txid, seq) AS rn
    FROM (SELECT seq, txid FROM events
          WHERE id IS NULL
            AND txid < pg_snapshot_xmin(pg_current_snapshot())
          ORDER BY txid, seq LIMIT batch) s)
  UPDATE events e SET id = base + settled.rn
  FROM settled WHERE e.seq = settled.seq;
  GET DIAGNOSTICS n = ROW_COUNT;
  IF n > 0 THEN
    UPDATE event_cursor SET last_id = base + n;
    PERFORM pg_notify('miyabi_events', (base + n)::text);
  END IF;
  RETURN base + n;
END $$;
